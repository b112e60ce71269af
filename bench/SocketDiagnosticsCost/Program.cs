// What EventLoop.GetSocketDiagnostics costs with N connections open, quiet and during a flood, measured off the loop
// thread (where it must run). Conditions alternate within each round (quiet/flood, then flood/quiet) so drift and other
// people's load hit both alike; the summary quotes medians. For each call: wall time, and the CPU time of the calling
// thread (CLOCK_THREAD_CPUTIME_ID), which says what the call itself costs whatever share of a CPU it got.
//
// usage: SocketDiagnosticsCost LOADGEN CONNS[,CONNS...] ROUNDS CALLS
using System.Diagnostics;
using System.Globalization;
using System.Net;
using NoBlock;
using NoBlock.Tcp;

if (args.Length < 4)
{
    Console.Error.WriteLine("usage: SocketDiagnosticsCost LOADGEN CONNS[,CONNS...] ROUNDS CALLS");
    return 2;
}
string loadgen = args[0];
int[] sizes = args[1].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
int rounds = int.Parse(args[2], CultureInfo.InvariantCulture);
int calls = int.Parse(args[3], CultureInfo.InvariantCulture);

using var loop = new EventLoop(new EventLoopOptions { Name = "diag-bench", StallThreshold = Timeout.InfiniteTimeSpan });
var acceptor = TcpAcceptor.Listen(loop, new IPEndPoint(IPAddress.Loopback, 0), () => new Echo(), new TcpServerOptions { Backlog = 4096 });
var loopThread = new Thread(loop.Run) { Name = "diag-bench loop", IsBackground = true };
loopThread.Start();
int port = acceptor.LocalEndPoint.Port;

var results = new List<(int Conns, string Condition, double WallMs, double CpuMs)>();
for (int round = 1; round <= rounds; round++)
{
    foreach (int n in sizes)
    {
        string[] order = round % 2 == 1 ? ["quiet", "flood"] : ["flood", "quiet"];
        foreach (var condition in order)
        {
            var measured = Measure(n, condition);
            results.AddRange(measured.Select(m => (n, condition, m.Wall, m.Cpu)));
            Console.Error.WriteLine($"round {round}/{rounds}, {n} connections, {condition}: median {Median(measured.Select(m => m.Wall)):0.0} ms wall, {Median(measured.Select(m => m.Cpu)):0.0} ms CPU ({measured.Count} calls)");
        }
    }
}

Console.WriteLine("| connections | condition | calls | median wall ms | p90 wall ms | max wall ms | median CPU ms | CPU µs per connection |");
Console.WriteLine("|---|---|---|---|---|---|---|---|");
foreach (var g in results.GroupBy(r => (r.Conns, r.Condition)).OrderBy(g => g.Key.Conns).ThenBy(g => g.Key.Condition))
{
    var wall = g.Select(r => r.WallMs).Order().ToArray();
    double cpu = Median(g.Select(r => r.CpuMs));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {g.Key.Conns} | {g.Key.Condition} | {wall.Length} | {Median(wall):0.0} | {wall[(int)(0.9 * (wall.Length - 1))]:0.0} | {wall[^1]:0.0} | {cpu:0.0} | {cpu * 1000 / g.Key.Conns:0.00} |"));
}
loop.Stop();
loopThread.Join();
return 0;

List<(double Wall, double Cpu)> Measure(int n, string condition)
{
    // quiet: loadgen -i holds n connections after one round trip each; flood: n connections ping-ponging 64 B.
    var psi = new ProcessStartInfo(loadgen)
    {
        RedirectStandardInput = true,
        RedirectStandardOutput = true,
        UseShellExecute = false,
    };
    foreach (var a in condition == "quiet"
        ? new[] { "-p", port.ToString(CultureInfo.InvariantCulture), "-c", n.ToString(CultureInfo.InvariantCulture), "-i", "120" }
        : new[] { "-p", port.ToString(CultureInfo.InvariantCulture), "-c", n.ToString(CultureInfo.InvariantCulture), "-d", "60", "-w", "0", "-s", "64" })
    {
        psi.ArgumentList.Add(a);
    }
    using var client = Process.Start(psi)!;
    var deadline = Stopwatch.StartNew();
    while (loop.GetSocketDiagnostics().Connections < n)
    {
        if (deadline.Elapsed > TimeSpan.FromSeconds(120) || client.HasExited)
        {
            throw new InvalidOperationException($"only {loop.GetSocketDiagnostics().Connections} of {n} connections came");
        }
        Thread.Sleep(50);
    }
    Thread.Sleep(500); // the flood gets going
    var samples = new List<(double, double)>();
    for (int i = 0; i < calls; i++)
    {
        long cpu0 = ThreadCpuNs();
        long t0 = Stopwatch.GetTimestamp();
        var d = loop.GetSocketDiagnostics();
        long t1 = Stopwatch.GetTimestamp();
        long cpu1 = ThreadCpuNs();
        if (d.Connections < n * 9 / 10)
        {
            throw new InvalidOperationException($"connections dropped to {d.Connections}");
        }
        samples.Add(((t1 - t0) * 1000.0 / Stopwatch.Frequency, (cpu1 - cpu0) / 1e6));
        Thread.Sleep(100);
    }
    try
    {
        client.Kill();
    }
    catch (InvalidOperationException)
    {
    }
    client.WaitForExit();
    var gone = Stopwatch.StartNew();
    while (loop.GetSocketDiagnostics().Connections > 0 && gone.Elapsed < TimeSpan.FromSeconds(60))
    {
        Thread.Sleep(50);
    }
    return samples;
}

// CLOCK_THREAD_CPUTIME_ID: exact to the nanosecond (schedstat of a running thread lags by up to a scheduler tick).
static unsafe long ThreadCpuNs()
{
    long* ts = stackalloc long[2];
    return Native.clock_gettime(3 /* CLOCK_THREAD_CPUTIME_ID */, ts) == 0 ? ts[0] * 1_000_000_000 + ts[1] : 0;
}

static double Median(IEnumerable<double> values)
{
    var v = values.Order().ToArray();
    return v.Length == 0 ? double.NaN : v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
}

static unsafe class Native
{
    [System.Runtime.InteropServices.DllImport("libc")]
    public static extern int clock_gettime(int clock, long* timespec);
}

sealed class Echo : TcpConnection
{
    protected override void OnData(ReadOnlySpan<byte> data) => Send(data);

    protected override void OnClosed(CloseReason reason)
    {
    }
}
