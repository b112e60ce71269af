using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.CompilerServices;
using NoBlock;
using NoBlock.Tcp;

namespace StackCaptureCost;

/// <summary>
/// What a stall's stack capture costs (bench/stack-capture.sh). One process made "realistically sized" (--threads parked
/// managed threads, --types types of the BCL's XML, LINQ-expression and regex assemblies with their methods prepared),
/// an "echo" loop serving --conns ping-pong connections (64 bytes, client threads in the process), and a "stall" loop
/// whose handler sleeps until its first report is delivered. Rounds alternate capture on / off (the order flips every
/// pair), --stalls stalls per round: per round, the echo round trips' p50/p99 while the stalls happen, and with capture
/// on the ms from the report's verdict to its delivery with the stack (the capture). One JSON line per round, then a summary.
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        int Arg(string name, int fallback) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length
            ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
        int threads = Arg("--threads", 200), types = Arg("--types", 400), conns = Arg("--conns", 8), rounds = Arg("--rounds", 6), stalls = Arg("--stalls", 5);
        int methods = Arg("--methods", 0);
        bool never = Arg("--never-capture", 0) != 0; // every round off: the peak RSS without any capture, to compare

        using var park = new ManualResetEventSlim();
        var parked = Enumerable.Range(0, threads).Select(_ => new Thread(() => park.Wait()) { IsBackground = true }).ToList();
        parked.ForEach(t => t.Start());
        int loaded = LoadTypes(types);
        int emitted = JitEmittedMethods(methods);

        // The echo loop's own stalls (a loaded machine starves it) take no capture: only the stall loop's are measured.
        using var echoLoop = new EventLoop(new EventLoopOptions { Name = "echo", StallThreshold = TimeSpan.FromMilliseconds(50), Watchdog = { CaptureStack = false } });
        var acceptor = TcpAcceptor.Listen(echoLoop, new IPEndPoint(IPAddress.Loopback, 0), () => new Echo(), new TcpServerOptions { Backlog = 256 });
        var echoThread = new Thread(echoLoop.Run) { IsBackground = true, Name = "echo loop" };
        echoThread.Start();

        var delivered = new AutoResetEvent(false);
        double captureMs = double.NaN;
        long handlerStart = 0;
        bool hadStack = false;
        var stallOptions = new EventLoopOptions
        {
            Name = "stall",
            StallThreshold = TimeSpan.FromMilliseconds(50),
            Watchdog = { MaxReportsPerMinute = 100_000, StackCaptureTimeout = TimeSpan.FromSeconds(10) },
            OnStall = r =>
            {
                if (r.Phase != StallPhase.Stalled)
                {
                    return;
                }
                // From the verdict (handler start + the elapsed time it states) to the delivery: the wait for the stack.
                captureMs = (Stopwatch.GetElapsedTime(handlerStart) - r.Elapsed).TotalMilliseconds;
                hadStack = r.Stack is not null;
                delivered.Set();
            },
        };
        using var stallLoop = new EventLoop(stallOptions);
        var stallThread = new Thread(stallLoop.Run) { IsBackground = true, Name = "stall loop" };
        stallThread.Start();

        Console.WriteLine(FormattableString.Invariant($"{{\"setup\":true,\"managed_threads\":{threads + 3 + conns},\"types_loaded\":{loaded},\"emitted_methods\":{emitted},\"jitted_methods\":{System.Runtime.JitInfo.GetCompiledMethodCount()},\"conns\":{conns},\"peak_rss_mb\":{PeakRssMb():0.0}}}"));

        var stop = new CancellationTokenSource();
        var rtts = new List<double>[conns];
        var clients = Enumerable.Range(0, conns).Select(i =>
        {
            rtts[i] = new List<double>(1 << 20);
            var t = new Thread(() => Client(acceptor.LocalEndPoint, rtts[i], stop.Token)) { IsBackground = true, Name = $"client {i}" };
            t.Start();
            return t;
        }).ToList();
        Thread.Sleep(1000); // warm-up

        var results = new List<(bool On, double P50, double P99, List<double> Captures, List<double> Allocated)>();
        for (int round = 0; round < rounds; round++)
        {
            bool on = !never && (round % 2 == 0) == (round / 2 % 2 == 0); // on off, off on, on off …
            stallOptions.Watchdog.CaptureStack = on;
            foreach (var r in rtts)
            {
                lock (r) { r.Clear(); }
            }
            var captures = new List<double>();
            var allocated = new List<double>();
            for (int s = 0; s < stalls; s++)
            {
                // Managed bytes allocated by the whole process during the stall (its capture included): with --conns 0
                // nothing else runs, so in capture-on rounds it is what a capture allocates.
                long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
                var done = new ManualResetEventSlim();
                stallLoop.Post(() =>
                {
                    handlerStart = Stopwatch.GetTimestamp();
                    StallHandler(delivered);
                    done.Set();
                });
                if (!done.Wait(TimeSpan.FromSeconds(30)))
                {
                    Console.Error.WriteLine("a stall did not end");
                    return 1;
                }
                if (on && hadStack)
                {
                    captures.Add(captureMs);
                }
                Thread.Sleep(200); // the loop back to normal between stalls (and the capture thread done with the session)
                allocated.Add((GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore) / 1048576.0);
            }
            var all = rtts.SelectMany(r => { lock (r) { return r.ToArray(); } }).Order().ToArray();
            double p50 = Pct(all, 0.50), p99 = Pct(all, 0.99);
            results.Add((on, p50, p99, captures, allocated));
            Console.WriteLine(FormattableString.Invariant($"{{\"round\":{round + 1},\"capture\":\"{(on ? "on" : "off")}\",\"round_trips\":{all.Length},\"p50_us\":{p50:0.0},\"p99_us\":{p99:0.0},\"captures_ms\":[{string.Join(",", captures.Select(c => c.ToString("0.0", CultureInfo.InvariantCulture)))}],\"alloc_mb_per_stall\":[{string.Join(",", allocated.Select(c => c.ToString("0.0", CultureInfo.InvariantCulture)))}],\"rss_mb\":{RssMb("VmRSS:"):0.0},\"gc_committed_mb\":{GC.GetGCMemoryInfo().TotalCommittedBytes / 1048576.0:0.0},\"peak_rss_mb\":{PeakRssMb():0.0}}}"));
        }
        stop.Cancel();
        clients.ForEach(t => t.Join());
        park.Set();
        // What stays once the garbage is collected: the heap the captures left live, and the memory the GC keeps committed.
        double committedBefore = GC.GetGCMemoryInfo().TotalCommittedBytes / 1048576.0;
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        var afterCollect = GC.GetGCMemoryInfo();

        double Med(IEnumerable<double> xs) { var a = xs.Order().ToArray(); return a.Length == 0 ? double.NaN : a[a.Length / 2]; }
        var onR = results.Where(r => r.On).ToList();
        var offR = results.Where(r => !r.On).ToList();
        var caps = onR.SelectMany(r => r.Captures).ToList();
        Console.WriteLine(FormattableString.Invariant(
            $"{{\"summary\":true,\"captures\":{caps.Count},\"capture_ms_median\":{Med(caps):0.0},\"capture_ms_max\":{(caps.Count == 0 ? double.NaN : caps.Max()):0.0},\"p50_us_on\":{Med(onR.Select(r => r.P50)):0.0},\"p50_us_off\":{Med(offR.Select(r => r.P50)):0.0},\"p99_us_on\":{Med(onR.Select(r => r.P99)):0.0},\"p99_us_off\":{Med(offR.Select(r => r.P99)):0.0},\"peak_rss_mb\":{PeakRssMb():0.0},\"gc_committed_mb_end\":{committedBefore:0.0},\"gc_committed_mb_after_collect\":{afterCollect.TotalCommittedBytes / 1048576.0:0.0},\"gc_heap_mb_after_collect\":{afterCollect.HeapSizeBytes / 1048576.0:0.0},\"rss_mb_after_collect\":{RssMb("VmRSS:"):0.0}}}"));
        stallLoop.Stop();
        echoLoop.Stop();
        stallThread.Join();
        echoThread.Join();
        return 0;
    }

    /// <summary>A stall two calls down: sleeps until its first report was delivered (or 10 s).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void StallHandler(AutoResetEvent delivered) => Lookup(delivered);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Lookup(AutoResetEvent delivered) => delivered.WaitOne(TimeSpan.FromSeconds(10));

    /// <summary>The process's peak resident set (VmHWM), MB: printed at setup and at the end, the growth is what the rounds (and their captures) added.</summary>
    private static double PeakRssMb() => RssMb("VmHWM:");

    /// <summary>A /proc/self/status memory line (VmRSS: now, VmHWM: peak), MB.</summary>
    private static double RssMb(string key)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(key, StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(key.Length).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) / 1024.0;
            }
        }
        return double.NaN;
    }

    private static double Pct(double[] sorted, double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    private static void Client(EndPoint server, List<double> rtts, CancellationToken stop)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveTimeout = 30_000 };
        s.Connect(server);
        var msg = new byte[64];
        var buf = new byte[64];
        while (!stop.IsCancellationRequested)
        {
            long t0 = Stopwatch.GetTimestamp();
            s.Send(msg);
            int got = 0;
            while (got < buf.Length)
            {
                got += s.Receive(buf, got, buf.Length - got, SocketFlags.None);
            }
            double us = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
            lock (rtts)
            {
                rtts.Add(us);
            }
        }
    }

    /// <summary>Loads up to <paramref name="count"/> types and prepares (jits) their plain methods: a process with more code for the rundown.</summary>
    private static int LoadTypes(int count)
    {
        int n = 0;
        foreach (var asm in new[] { typeof(System.Xml.XmlDocument).Assembly, typeof(System.Linq.Expressions.Expression).Assembly, typeof(System.Text.RegularExpressions.Regex).Assembly, typeof(System.Text.Json.JsonSerializer).Assembly })
        {
            Type[] all;
            try
            {
                all = asm.GetTypes();
            }
            catch (ReflectionTypeLoadException ex)
            {
                all = ex.Types.Where(t => t is not null).ToArray()!;
            }
            foreach (var t in all)
            {
                if (n >= count)
                {
                    return n;
                }
                if (t.IsGenericTypeDefinition || t.IsInterface)
                {
                    continue;
                }
                n++;
                foreach (var m in t.GetMethods(BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                {
                    if (m.IsAbstract || m.ContainsGenericParameters)
                    {
                        continue;
                    }
                    try
                    {
                        RuntimeHelpers.PrepareMethod(m.MethodHandle);
                    }
                    catch (Exception)
                    {
                        // some methods cannot be prepared alone: the type is loaded anyway
                    }
                }
            }
        }
        return n;
    }

    /// <summary>
    /// Emits <paramref name="count"/> small static methods (100 to a type, each a few arithmetic instructions on its
    /// argument) into a dynamic assembly and calls each once, so the JIT compiles every one: a process with as much
    /// jitted code as a large application has, which the capture's rundown must enumerate. Returns the number called.
    /// </summary>
    private static int JitEmittedMethods(int count)
    {
        if (count <= 0)
        {
            return 0;
        }
        var asm = System.Reflection.Emit.AssemblyBuilder.DefineDynamicAssembly(new AssemblyName("StackCaptureCost.Emitted"), System.Reflection.Emit.AssemblyBuilderAccess.Run);
        var module = asm.DefineDynamicModule("Emitted");
        int called = 0;
        for (int typeIndex = 0; called < count; typeIndex++)
        {
            var tb = module.DefineType(FormattableString.Invariant($"Emitted.Handlers{typeIndex}"), TypeAttributes.Public | TypeAttributes.Abstract | TypeAttributes.Sealed);
            int inType = Math.Min(100, count - called);
            for (int m = 0; m < inType; m++)
            {
                var mb = tb.DefineMethod(FormattableString.Invariant($"Handle{m}"), MethodAttributes.Public | MethodAttributes.Static, typeof(int), [typeof(int)]);
                var il = mb.GetILGenerator();
                il.Emit(System.Reflection.Emit.OpCodes.Ldarg_0);
                il.Emit(System.Reflection.Emit.OpCodes.Ldc_I4, m + 1);
                il.Emit(System.Reflection.Emit.OpCodes.Mul);
                il.Emit(System.Reflection.Emit.OpCodes.Ldc_I4, typeIndex);
                il.Emit(System.Reflection.Emit.OpCodes.Xor);
                il.Emit(System.Reflection.Emit.OpCodes.Ret);
            }
            var type = tb.CreateType();
            foreach (var mi in type.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly))
            {
                RuntimeHelpers.PrepareMethod(mi.MethodHandle);
                called++;
            }
        }
        return called;
    }

    private sealed class Echo : TcpConnection
    {
        protected override void OnData(ReadOnlySpan<byte> data) => Send(data);
    }
}
