using Xunit;
using NoBlock.Analyzers.Rules;
using NoBlock.Analyzers.Tests.Verification;
using Verify = NoBlock.Analyzers.Tests.Verification.AnalyzerVerifier<NoBlock.Analyzers.Rules.BlockingCallInHandlerAnalyzer>;

namespace NoBlock.Analyzers.Tests.HandlerContext;

/// <summary>Hand-written epoll dispatch loops as real code writes them: direct, wrapped, poll-once, iterator, any binding.</summary>
public sealed class EpollDispatchLoopTests
{
    [Fact]
    public Task Textbook_loop_over_TmdsLibC() => Verify.VerifyAsync("""
        using System.IO;
        using System.Threading;
        using Tmds.Linux;
        using static Tmds.Linux.LibC;

        unsafe class Server
        {
            int _epfd;
            bool _running = true;

            void Run()
            {
                var config = File.ReadAllText("server.json");   // before the loop: start-up, not loop code
                epoll_event* events = stackalloc epoll_event[64];
                while (_running)
                {
                    int n = epoll_wait(_epfd, events, 64, -1);  // the loop's own wait: not a finding
                    for (int i = 0; i < n; i++)
                    {
                        {|NB0001:Thread.Sleep(1)|};
                        {|NB0002:Handle(events[i].data.fd)|};
                        var more = {|NB0001:epoll_wait(_epfd, events, 64, 100)|}; // a nested wait with a timeout blocks
                        var none = epoll_wait(_epfd, events, 64, 0);            // zero timeout: a poll, not a wait
                    }
                }

                Thread.Sleep(100);                                // after the loop: shutdown, not loop code
            }

            void Handle(int fd) => File.ReadAllBytes("/tmp/" + fd);
        }
        """);

    [Fact]
    public Task Wait_behind_a_wrapper_and_EINTR_retry() => Verify.VerifyAsync("""
        using System.Threading;
        using Tmds.Linux;
        using static Tmds.Linux.LibC;

        unsafe class Poller
        {
            int _epfd;

            int Wait(epoll_event* events, int timeout)
            {
                int n;
                do
                {
                    n = epoll_wait(_epfd, events, 64, timeout);
                }
                while (n < 0 && errno == EINTR);
                return n;
            }

            int WaitForever(epoll_event* events) => Wait(events, -1);

            void Run()
            {
                epoll_event* events = stackalloc epoll_event[64];
                for (;;)
                {
                    int n = WaitForever(events);
                    for (int i = 0; i < n; i++)
                    {
                        {|NB0001:Thread.Sleep(1)|};
                    }
                }
            }
        }
        """);

    /// <summary>An EINTR retry loop that backs off or logs between tries is still a retry loop, not a dispatch loop.</summary>
    [Fact]
    public Task EINTR_retry_that_backs_off_and_logs() => Verify.VerifyAsync("""
        using System;
        using System.Threading;
        using Tmds.Linux;
        using static Tmds.Linux.LibC;

        static class Log
        {
            public static void Warn(string message) => Console.Error.WriteLine(message);
        }

        unsafe class Poller
        {
            int _epfd;
            int _interrupted;

            int Wait(epoll_event* events, int timeout)
            {
                int n;
                var spinner = new SpinWait();
                while (true)
                {
                    n = epoll_wait(_epfd, events, 64, timeout);
                    if (n >= 0 || errno != EINTR)
                    {
                        return n;
                    }

                    _interrupted++;
                    // runs on the loop thread after the wait returned: a console write there is still NB0005
                    {|NB0005:Console.Error.WriteLine($"epoll_wait interrupted ({_interrupted} times), retrying")|};
                    {|NB0005:Log.Warn("interrupted: " + errno.ToString())|};
                    spinner.SpinOnce();
                    Thread.Yield();
                }
            }

            int WaitYielding(epoll_event* events)
            {
                int n;
                do
                {
                    n = epoll_wait(_epfd, events, 64, -1);
                    if (n < 0) {|NB0005:LogRetry(errno)|};
                    Thread.SpinWait(20);
                }
                while (n < 0 && errno == EINTR);
                return n;
            }

            static void LogRetry(int error) => Console.WriteLine("retry " + error);

            void Run()
            {
                epoll_event* events = stackalloc epoll_event[64];
                for (;;)
                {
                    int n = Wait(events, -1);
                    for (int i = 0; i < n; i++)
                    {
                        {|NB0001:Thread.Sleep(1)|};
                    }

                    n = WaitYielding(events);
                    for (int i = 0; i < n; i++)
                    {
                        {|NB0001:Thread.Sleep(2)|};
                    }
                }
            }
        }
        """);

    /// <summary>A loop that mentions EINTR but dispatches the events it got (even with a log line) is a dispatch loop.</summary>
    [Fact]
    public Task Loop_that_mentions_EINTR_and_dispatches_is_a_dispatch_loop() => Verify.VerifyAsync("""
        using System;
        using System.Threading;
        using Tmds.Linux;
        using static Tmds.Linux.LibC;

        unsafe class Poller
        {
            int _epfd;

            void Run()
            {
                epoll_event* events = stackalloc epoll_event[64];
                while (true)
                {
                    int n = epoll_wait(_epfd, events, 64, -1);
                    if (n < 0 && errno == EINTR)
                    {
                        {|NB0005:Console.Error.WriteLine("interrupted")|};
                        continue;
                    }

                    for (int i = 0; i < n; i++)
                    {
                        LogEvent(events[i].data.fd);
                        {|NB0001:Thread.Sleep(1)|};
                    }
                }
            }

            static void LogEvent(int fd) { }
        }
        """);

    [Fact]
    public Task Poll_once_method_called_from_a_loop() => Verify.VerifyAsync("""
        using System.Threading;
        using Tmds.Linux;
        using static Tmds.Linux.LibC;

        unsafe class Reactor
        {
            int _epfd;
            bool _stop;

            public void Run()
            {
                while (!_stop)
                {
                    PollOnce(-1);
                }
            }

            void PollOnce(int timeout)
            {
                Thread.Sleep(0); // before the wait: not dispatch code
                epoll_event* events = stackalloc epoll_event[64];
                int n = epoll_wait(_epfd, events, 64, timeout);
                for (int i = 0; i < n; i++)
                {
                    {|NB0001:Thread.Sleep(5)|};
                }
            }
        }
        """);

    [Fact]
    public Task Single_wait_that_is_not_polled_in_a_loop_is_not_a_dispatcher() => Verify.VerifyAsync("""
        using System.Threading;
        using Tmds.Linux;
        using static Tmds.Linux.LibC;

        unsafe class ConnectProbe
        {
            int _epfd;

            public bool WaitConnected()
            {
                epoll_event ev;
                int n = epoll_wait(_epfd, &ev, 1, 5000);
                Thread.Sleep(10);
                return n == 1;
            }
        }
        """);

    [Fact]
    public Task Iterator_consumed_by_foreach() => Verify.VerifyAsync("""
        using System.Collections.Generic;
        using System.Threading;
        using Tmds.Linux;
        using static Tmds.Linux.LibC;

        unsafe class Reactor
        {
            int _epfd;

            int WaitInto(epoll_event[] events)
            {
                fixed (epoll_event* p = events)
                {
                    return epoll_wait(_epfd, p, events.Length, -1);
                }
            }

            IEnumerable<int> ReadyFds()
            {
                var events = new epoll_event[64];
                while (true)
                {
                    int n = WaitInto(events);
                    for (int i = 0; i < n; i++)
                    {
                        yield return events[i].data.fd;
                    }
                }
            }

            public void Run()
            {
                foreach (var fd in ReadyFds())
                {
                    {|NB0001:Thread.Sleep(fd)|};
                }
            }
        }
        """);

    [Fact]
    public Task Own_DllImport_binding_with_other_names() => Verify.VerifyAsync("""
        using System.Runtime.InteropServices;
        using System.Threading;

        static class Native
        {
            [DllImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
            public static extern unsafe int WaitForEvents(int epfd, void* events, int max, int timeoutMs);

            [DllImport("libc", EntryPoint = "usleep")]
            public static extern int MicroSleep(uint usec);

            [DllImport("libc", EntryPoint = "poll")]
            public static extern unsafe int Poll(void* fds, ulong count, int timeout);
        }

        unsafe class Loop
        {
            void Run(int epfd)
            {
                byte* buffer = stackalloc byte[12 * 64];
                while (true)
                {
                    int n = Native.WaitForEvents(epfd, buffer, 64, -1);
                    {|NB0001:Native.MicroSleep(1000)|};
                    {|NB0001:Native.Poll(buffer, 1, 10)|};
                    Native.Poll(buffer, 1, 0);
                }
            }
        }
        """);

    [Fact]
    public Task Lambdas_in_the_loop_that_are_offloaded_stay_silent() => Verify.VerifyAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using Tmds.Linux;
        using static Tmds.Linux.LibC;

        unsafe class Server
        {
            void Run(int epfd)
            {
                epoll_event* events = stackalloc epoll_event[16];
                while (true)
                {
                    int n = epoll_wait(epfd, events, 16, -1);
                    Task.Run(() => Thread.Sleep(100));
                    ThreadPool.QueueUserWorkItem(_ => Thread.Sleep(100));
                }
            }
        }
        """);

    [Fact]
    public Task Ordinary_loops_without_epoll_are_not_dispatch_loops() => Verify.VerifyAsync("""
        using System.Threading;

        class Worker
        {
            bool _running = true;

            int Wait(int timeout) => timeout;

            void Run()
            {
                while (_running)
                {
                    Wait(10);
                    Thread.Sleep(100);
                }
            }
        }
        """);
}
