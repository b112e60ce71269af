using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using NoBlock.Tcp;
using Xunit;

namespace NoBlock.Tests.Runtime;

/// <summary>Issue 11, "defaults and verdicts users rely on": a failing handler is never silent, a port in use is an error.</summary>
public sealed class DefaultsTests
{
    private static readonly IPEndPoint AnyLoopbackPort = new(IPAddress.Loopback, 0);

    /// <summary>A StringWriter the loop thread writes and the test reads: locked, since they are two threads.</summary>
    private sealed class Lines
    {
        private readonly StringWriter _w = new();
        public TextWriter Writer() => TextWriter.Synchronized(_w);
        public string[] All()
        {
            lock (_w)
            {
                return _w.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            }
        }
    }

    private static void Throw(string what) => throw new InvalidOperationException(what);

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void A_throwing_handler_with_no_logger_and_no_callback_writes_one_line_naming_handler_fd_exception_and_outcome(EventLoopBackend backend)
    {
        var lines = new Lines();
        var writer = lines.Writer();
        int fd = Fds.EventFd();
        try
        {
            using var lt = new LoopThread(Backends.Loop(backend, new EventLoopOptions { Name = "quiet", FaultWriter = () => writer }));
            lt.Invoke(() => lt.Loop.Register(fd, IoEvents.Readable, _ => Throw("boom in the fd handler")));
            Fds.Write(fd, 8); // an eventfd takes an 8-byte count
            lt.Loop.Post(() => Throw("boom in posted work"));
            Waits.Until(() => lines.All().Length >= 2, "two fault lines");
            lt.RunTurns();
            var all = lines.All();
            Assert.Equal(2, all.Length);
            var fdLine = Assert.Single(all, l => l.Contains("boom in the fd handler"));
            Assert.StartsWith("NoBlock: loop 'quiet': handler ", fdLine);
            Assert.Contains($"on fd {fd} threw InvalidOperationException: boom in the fd handler", fdLine);
            Assert.Contains("its registration was closed", fdLine);
            Assert.Contains("DefaultsTests.Throw", fdLine); // the innermost frame of the exception
            Assert.Contains("EventLoopOptions.Logger or OnHandlerException", fdLine);
            var postLine = Assert.Single(all, l => l.Contains("boom in posted work"));
            Assert.Contains("the loop goes on", postLine);
        }
        finally
        {
            Fds.Close(fd);
        }
    }

    [Theory]
    [InlineData(EventLoopBackend.Epoll, "logger"), IoUringRow("logger")]
    [InlineData(EventLoopBackend.Epoll, "callback"), IoUringRow("callback")]
    [InlineData(EventLoopBackend.Epoll, "off"), IoUringRow("off")]
    public void No_stderr_line_when_a_logger_or_callback_is_told_or_the_line_is_switched_off(EventLoopBackend backend, string setting)
    {
        var lines = new Lines();
        var writer = lines.Writer();
        int told = 0;
        var options = new EventLoopOptions { FaultWriter = () => writer };
        switch (setting)
        {
            case "logger": options.Logger = NullLogger.Instance; break;
            case "callback": options.OnHandlerException = _ => told++; break;
            default: options.HandlerFaultsToStandardError = false; break;
        }
        using var lt = new LoopThread(Backends.Loop(backend, options));
        for (int i = 0; i < 3; i++)
        {
            lt.Loop.Post(() => Throw("boom"));
        }
        lt.RunTurns();
        Assert.Empty(lines.All());
        Assert.Equal(setting == "callback" ? 3 : 0, lt.Invoke(() => told));
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void The_stderr_lines_are_rate_limited_per_minute(EventLoopBackend backend)
    {
        var lines = new Lines();
        var writer = lines.Writer();
        using var lt = new LoopThread(Backends.Loop(backend, new EventLoopOptions { FaultWriter = () => writer, StandardErrorFaultsPerMinute = 4 }));
        for (int i = 0; i < 25; i++)
        {
            lt.Loop.Post(() => Throw("boom"));
        }
        lt.RunTurns();
        Assert.Equal(4, lines.All().Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => Backends.Loop(backend, new EventLoopOptions { StandardErrorFaultsPerMinute = 0 }));
    }

    [Fact]
    public void The_line_after_a_suppressed_burst_says_how_many_were_not_shown()
    {
        var fault = new HandlerFault("l", "Server.OnReadable", 7, new InvalidOperationException("x"));
        Assert.Contains("(12 more handler failures in the last minute were not shown)", HandlerFaultLines.Format(fault, HandlerExceptionPolicy.CloseRegistration, 12));
        Assert.DoesNotContain("not shown", HandlerFaultLines.Format(fault, HandlerExceptionPolicy.CloseRegistration, 0));
        Assert.Contains("the loop stops", HandlerFaultLines.Format(fault, HandlerExceptionPolicy.StopLoop, 0));
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void A_group_on_a_port_another_group_listens_on_is_a_clear_error_unless_ReusePort_is_set(EventLoopBackend backend)
    {
        using var first = new EventLoopGroup(2, new EventLoopOptions { Name = "first", Backend = backend });
        var ep = first.Listen(AnyLoopbackPort, () => new EchoConnection());
        first.Start();

        using var second = new EventLoopGroup(2, new EventLoopOptions { Name = "second", Backend = backend });
        var options = new TcpServerOptions();
        var ex = Assert.Throws<SocketException>(() => second.Listen(ep, () => new EchoConnection(), options));
        Assert.Equal(SocketError.AddressAlreadyInUse, ex.SocketErrorCode);
        Assert.Contains($"port {ep.Port} on 127.0.0.1 is already in use", ex.Message);
        Assert.Contains("TcpServerOptions.ReusePort", ex.Message);
        Assert.Empty(second.Acceptors);
        Assert.False(options.ReusePort); // the caller's options are not changed behind their back

        // Asked for, sharing works: both groups listen on the port.
        var shared = second.Listen(ep, () => new EchoConnection(), new TcpServerOptions { ReusePort = true });
        Assert.Equal(ep, shared);
        Assert.Equal(2, second.Acceptors.Count);
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void A_group_on_a_free_fixed_port_still_shares_it_among_its_own_loops(EventLoopBackend backend)
    {
        int port;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            probe.Bind(AnyLoopbackPort);
            port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }
        using var group = new EventLoopGroup(3, Backends.Options(backend));
        var ep = group.Listen(new IPEndPoint(IPAddress.Loopback, port), () => new EchoConnection());
        Assert.Equal(port, ep.Port);
        Assert.Equal(3, group.Acceptors.Count);
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void TcpAcceptor_on_a_port_in_use_names_the_port_and_the_way_out(EventLoopBackend backend)
    {
        using var loop = Backends.Loop(backend);
        using var first = TcpAcceptor.Listen(loop, AnyLoopbackPort, () => new EchoConnection());
        var ex = Assert.Throws<SocketException>(() => TcpAcceptor.Listen(loop, first.LocalEndPoint, () => new EchoConnection()));
        Assert.Equal(SocketError.AddressAlreadyInUse, ex.SocketErrorCode);
        Assert.Contains($"port {first.LocalEndPoint.Port} on 127.0.0.1 is already in use (EADDRINUSE", ex.Message);
    }
}
