using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using NoBlock.Tests.Runtime;
using Tmds.Linux;
using Xunit;
using static Tmds.Linux.LibC;

namespace NoBlock.Tests.Diagnostics;

/// <summary>The runtime's log events as a log pipeline sees them (FakeLogger), and their table in docs/watchdog.md.</summary>
public sealed unsafe class LogEventTests
{
    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void A_handler_fault_is_logged_with_the_name_a_stall_report_gives_the_same_lambda(EventLoopBackend backend)
    {
        var logger = new FakeLogger();
        var reports = new ReportCollector();
        var options = reports.Options("named", TimeSpan.FromMilliseconds(50));
        options.Logger = logger;
        HandlerFault? fault = null;
        options.OnHandlerException = f => fault = f;
        using var lt = new LoopThread(Backends.Loop(backend, options));
        lt.Loop.Post(() =>
        {
            Thread.Sleep(150);
            throw new InvalidOperationException("boom");
        });

        var stalled = reports.WaitFor(StallPhase.Stalled);
        Waits.Until(() => logger.Collector.GetSnapshot().Any(r => r.Id.Name == "HandlerFaulted"), "the fault in the log");
        // The loop logs the fault, then calls OnHandlerException: wait for that too before reading it.
        Waits.Until(() => Volatile.Read(ref fault) is not null, "OnHandlerException");
        var logged = logger.Collector.GetSnapshot().Single(r => r.Id.Name == "HandlerFaulted");
        Assert.Equal(20, logged.Id.Id);
        Assert.Equal(LogLevel.Error, logged.Level);
        Assert.IsType<InvalidOperationException>(logged.Exception);
        Assert.Equal("named", logged.GetStructuredStateValue("LoopName"));
        Assert.Equal("-1", logged.GetStructuredStateValue("Fd"));
        Assert.Equal("CloseRegistration", logged.GetStructuredStateValue("Policy"));
        Assert.Equal($"{nameof(LogEventTests)}.{nameof(A_handler_fault_is_logged_with_the_name_a_stall_report_gives_the_same_lambda)} (lambda)", stalled.Handler);
        Assert.Equal(stalled.Handler, logged.GetStructuredStateValue("Handler"));
        Assert.Equal(stalled.Handler, fault!.Handler);
        Assert.Equal($"Loop named: handler {stalled.Handler} on fd -1 threw; policy CloseRegistration", logged.Message);
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void An_edge_triggered_leftover_is_logged_with_its_own_event_and_the_bytes_left(EventLoopBackend backend)
    {
        var logger = new FakeLogger();
        int* sv = stackalloc int[2];
        Assert.Equal(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
        try
        {
            var options = new EventLoopOptions { Name = "guard-log", Logger = logger, Guards = { EdgeTriggeredLeftovers = true, SyncWaits = false } };
            using var lt = new LoopThread(Backends.Loop(backend, options));
            lt.Invoke(() => lt.Loop.Register(sv[0], IoEvents.Readable | IoEvents.EdgeTriggered, e => Fds.Read(e.Fd, 1)));
            Fds.Write(sv[1], 10);
            Waits.Until(() => logger.Collector.GetSnapshot().Any(r => r.Id.Id == 10), "the finding in the log");
            var record = logger.Collector.GetSnapshot().First(r => r.Id.Id == 10);
            Assert.Equal("EdgeTriggeredBytesLeft", record.Id.Name);
            Assert.Equal(LogLevel.Warning, record.Level);
            Assert.Equal("9", record.GetStructuredStateValue("UnreadBytes"));
            Assert.Equal(sv[0].ToString(), record.GetStructuredStateValue("Fd"));
            Assert.Equal("NB0003", record.GetStructuredStateValue("Rule"));
            Assert.Equal("guard-log", record.GetStructuredStateValue("LoopName"));
        }
        finally
        {
            Fds.Close(sv[0]);
            Fds.Close(sv[1]);
        }
    }

    [Fact]
    public void The_log_event_table_in_the_docs_lists_every_event_with_its_id_name_and_level()
    {
        var events = typeof(EventLoop).Assembly.GetType("NoBlock.RuntimeLog", throwOnError: true)!
            .GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Select(m => m.GetCustomAttribute<LoggerMessageAttribute>())
            .Where(a => a is not null)
            .Select(a => (a!.EventId, a.EventName, Level: a.Level.ToString(), a.Message))
            .OrderBy(e => e.EventId)
            .ToArray();
        Assert.True(events.Length >= 15, $"{events.Length} events");
        Assert.Equal(events.Length, events.Select(e => e.EventId).Distinct().Count());

        var doc = File.ReadAllText(Path.Combine(FindRoot(), "docs", "watchdog.md"));
        var rows = Regex.Matches(doc, @"^\| (\d+) \| `(\w+)` \| (\w+) \| `(.+)` \|$", RegexOptions.Multiline)
            .Select(m => (EventId: int.Parse(m.Groups[1].Value), EventName: m.Groups[2].Value, Level: m.Groups[3].Value, Message: m.Groups[4].Value))
            .ToArray();
        Assert.Equal(events.Select(e => $"{e.EventId} {e.EventName} {e.Level} {e.Message}"), rows.Select(r => $"{r.EventId} {r.EventName} {r.Level} {r.Message}"));
    }

    private static string FindRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "NoBlock.sln")))
        {
            directory = directory.Parent;
        }
        return directory?.FullName ?? throw new InvalidOperationException("NoBlock.sln not found above " + AppContext.BaseDirectory);
    }
}
