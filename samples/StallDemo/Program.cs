using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using NoBlock;

namespace StallDemo;

/// <summary>
/// <c>dotnet run --project samples/StallDemo</c>: an EventLoop server on 127.0.0.1 driven by a built-in client for
/// about ten seconds. Partway through, the client sends the three requests whose handlers make the classic
/// mistakes — one sleeps, one spins, one edge-triggered handler reads once — and NoBlock says so as it happens.
/// </summary>
internal static class Program
{
    /// <summary>Echo connections ping-ponging in the background, so the stalls have victims.</summary>
    private const int EchoClients = 4;

    /// <summary>Bytes per echo message and per chunk request (the chunk handler reads only 16 of them).</summary>
    private const int MessageSize = 64;

    private static readonly Stopwatch Clock = Stopwatch.StartNew();

    private static int Main(string[] args)
    {
        var command = new System.CommandLine.RootCommand(
            "An EventLoop server on 127.0.0.1 driven by a built-in client for about ten seconds. Partway through, the client sends " +
            "the three requests whose handlers make the classic mistakes (one sleeps, one spins, one edge-triggered handler reads " +
            "once) and NoBlock's watchdog and guards say so as it happens. Exit codes: 0 every expected alert arrived; 1 one did " +
            "not; 2 bad arguments.");
        command.SetAction(_ => Run());
        return NoBlock.Samples.CommandLines.Run(command, args);
    }

    private static int Run()
    {
        using var metrics = new MetricsRecorder();
        var alerts = new Alerts();
        var options = new EventLoopOptions
        {
            Name = "main",
            StallThreshold = TimeSpan.FromMilliseconds(100),
            OnStall = alerts.OnStall,
            // On by default in Debug builds; set here so a Release run of the demo shows them too.
            Guards = { EdgeTriggeredLeftovers = true, OnReport = alerts.OnGuard },
        };
        using var loop = new EventLoop(options);
        var server = new Server(loop);
        var loopThread = new Thread(loop.Run) { Name = "loop 'main'" };
        loopThread.Start();
        metrics.Observe(); // starts the utilisation window

        Say($"EventLoop 'main' serving on {server.EndPoint}; stall threshold {options.StallThreshold.TotalMilliseconds} ms");
        var stop = new CancellationTokenSource();
        var echo = Enumerable.Range(0, EchoClients).Select(_ => Task.Factory.StartNew(() => EchoClient(server.EndPoint, stop.Token), TaskCreationOptions.LongRunning)).ToArray();
        Say($"{EchoClients} clients ping-pong {MessageSize}-byte messages");

        Thread.Sleep(1500);
        Say("-> a request whose handler calls Thread.Sleep(300) (a synchronous lookup)");
        Request(server.EndPoint, "lookup", "user 42\n");

        Thread.Sleep(1200);
        Say("-> a request whose handler spins for 300 ms (a CPU-heavy checksum)");
        Request(server.EndPoint, "checksum", "payload\n");

        Thread.Sleep(1200);
        Say($"-> {MessageSize} bytes to an edge-triggered handler that reads {Server.ChunkReadSize} bytes once");
        using var chunk = Connect(server.EndPoint, "chunk"); // kept open: closing it would make a new edge
        int echoed = ChunkRequest(chunk);
        Say($"   got {echoed} of {MessageSize} bytes back; the other {MessageSize - echoed} wait in the socket, and epoll will not say so again");

        Thread.Sleep(2500);
        stop.Cancel();
        Task.WaitAll(echo);
        metrics.Observe(); // closes the utilisation window over the whole run
        loop.Stop();
        loopThread.Join();
        server.Dispose();

        var roundTrips = echo.Select(t => t.Result).SelectMany(x => x).ToArray();
        PrintSummary(roundTrips.Length + 3, metrics, alerts);
        bool caughtAll = alerts.Count(StallKind.Blocked) >= 1
            && alerts.Count(StallKind.Running) + alerts.Count(StallKind.Starved) >= 1
            && alerts.EdgeLeftovers >= 1;
        if (!caughtAll)
        {
            Console.Error.WriteLine("StallDemo: an expected alert did not arrive (see above).");
            return 1;
        }
        return 0;
    }

    internal static void Say(string line) =>
        Console.WriteLine($"[{Clock.Elapsed.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture),5} s] {line}");

    private static Socket Connect(IPEndPoint server, string service)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveTimeout = 5000 };
        s.Connect(server);
        s.Send(Encoding.ASCII.GetBytes(service + "\n"));
        ReadLine(s); // "ok"
        return s;
    }

    private static string ReadLine(Socket s)
    {
        var sb = new StringBuilder();
        var one = new byte[1];
        while (s.Receive(one) == 1 && one[0] != '\n')
        {
            sb.Append((char)one[0]);
        }
        return sb.ToString();
    }

    /// <summary>Ping-pong until cancelled; returns each round trip in milliseconds.</summary>
    private static List<double> EchoClient(IPEndPoint server, CancellationToken stop)
    {
        var trips = new List<double>(100_000);
        using var s = Connect(server, "echo");
        var message = new byte[MessageSize];
        var reply = new byte[MessageSize];
        while (!stop.IsCancellationRequested)
        {
            long start = Stopwatch.GetTimestamp();
            s.Send(message);
            int got = 0;
            while (got < MessageSize)
            {
                got += s.Receive(reply, got, MessageSize - got, SocketFlags.None);
            }
            trips.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        return trips;
    }

    private static void Request(IPEndPoint server, string service, string body)
    {
        using var s = Connect(server, service);
        var start = Stopwatch.GetTimestamp();
        s.Send(Encoding.ASCII.GetBytes(body));
        string reply = ReadLine(s);
        Say($"   reply '{reply}' after {Stopwatch.GetElapsedTime(start).TotalMilliseconds:0} ms");
    }

    private static int ChunkRequest(Socket s)
    {
        s.Send(new byte[MessageSize]);
        var reply = new byte[MessageSize];
        int got = 0;
        // The handler echoes what it read; wait a moment for the rest, which never comes.
        s.ReceiveTimeout = 500;
        try
        {
            while (got < MessageSize)
            {
                int n = s.Receive(reply, got, MessageSize - got, SocketFlags.None);
                if (n == 0)
                {
                    break;
                }
                got += n;
            }
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.TimedOut)
        {
        }
        return got;
    }

    private static void PrintSummary(int requests, MetricsRecorder metrics, Alerts alerts)
    {
        var handler = metrics.HandlerDurations;
        Console.WriteLine();
        Console.WriteLine("  summary");
        Console.WriteLine("  ------------------------------------------------------------");
        Console.WriteLine($"  requests served               {requests,12:N0}");
        Console.WriteLine($"  handler duration p50          {Format(Percentile(handler, 0.50)),12}");
        Console.WriteLine($"  handler duration p99          {Format(Percentile(handler, 0.99)),12}");
        Console.WriteLine($"  handler duration max          {Format(handler.Length == 0 ? 0 : handler.Max()),12}");
        Console.WriteLine($"  stalls: blocked               {alerts.Count(StallKind.Blocked),12}");
        Console.WriteLine($"  stalls: running               {alerts.Count(StallKind.Running),12}");
        Console.WriteLine($"  stalls: starved               {alerts.Count(StallKind.Starved),12}");
        Console.WriteLine($"  edge-triggered leftovers      {alerts.EdgeLeftovers,12}");
        Console.WriteLine($"  loop utilisation              {metrics.Utilization,12:P0}");
        Console.WriteLine();
        Console.WriteLine("  At build time the analyzers flagged the same handlers: NB0001 on OnLookup's Thread.Sleep, NB0003 on");
        Console.WriteLine("  OnChunk's single recv. docs/watchdog.md explains each alert and how to graph the metrics.");
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    private static string Format(double seconds) =>
        seconds >= 0.001 ? $"{seconds * 1000:0.0} ms" : $"{seconds * 1_000_000:0} µs";
}

/// <summary>Prints NoBlock's alerts as they arrive (on the watchdog thread) and counts them.</summary>
internal sealed class Alerts
{
    private readonly ConcurrentDictionary<StallKind, int> _stalls = new();
    private int _edgeLeftovers;

    public int EdgeLeftovers => Volatile.Read(ref _edgeLeftovers);

    public int Count(StallKind kind) => _stalls.TryGetValue(kind, out int n) ? n : 0;

    public void OnStall(StallReport report)
    {
        if (report.Phase == StallPhase.Stalled)
        {
            _stalls.AddOrUpdate(report.Kind, 1, (_, n) => n + 1);
        }
        Program.Say("   " + report);
    }

    public void OnGuard(GuardReport report)
    {
        if (report.Guard == LoopGuard.EdgeTriggeredLeftover)
        {
            Interlocked.Increment(ref _edgeLeftovers);
        }
        Program.Say("   " + report);
    }
}

/// <summary>Listens to meter NoBlock in-process, as dotnet-counters or OpenTelemetry would.</summary>
internal sealed class MetricsRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<double> _durations = new();

    public MetricsRecorder()
    {
        _listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "NoBlock")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<double>((instrument, value, _, _) =>
        {
            if (instrument.Name == "noblock.loop.handler.duration")
            {
                _durations.Enqueue(value);
            }
            else if (instrument.Name == "noblock.loop.utilization")
            {
                Utilization = value;
            }
        });
        _listener.Start();
    }

    public double Utilization { get; private set; }

    public double[] HandlerDurations => _durations.Order().ToArray();

    public void Observe() => _listener.RecordObservableInstruments();

    public void Dispose() => _listener.Dispose();
}
