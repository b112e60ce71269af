namespace NoBlock.Bench.AnalyzerCost;

/// <summary>
/// A hand-written epoll dispatch loop over Tmds.LibC, as older parts of a server have: the loop's own
/// <c>epoll_wait</c>, an edge-triggered registration drained until EAGAIN, a listening socket accepted until EAGAIN, and (in every other reactor) an audit
/// helper that appends to a file from inside the loop (NB0002).
/// </summary>
internal static class ReactorTemplate
{
    public static string Reactor(int index)
    {
        string audit = index % 2 == 1
            ? """
                            Audit(fd);
            """
            : string.Empty;
        return $$"""
            using System;
            using System.Collections.Generic;
            using System.IO;
            using Server.Common;
            using Tmds.Linux;
            using static Tmds.Linux.LibC;

            namespace Server.Reactors;

            /// <summary>The admin port's reactor: a raw epoll loop kept from before EventLoop existed.</summary>
            public sealed unsafe class RawReactor{{index}} : IDisposable
            {
                private const int MaxEvents = 64;
                private readonly int _epfd;
                private readonly Dictionary<int, Action<int>> _handlers = new Dictionary<int, Action<int>>();
                private volatile bool _stopping;
                private int _listenFd = -1;

                public void Listen(int listenFd)
                {
                    _listenFd = listenFd;
                    Add(listenFd, _ => AcceptAll());
                }

                public RawReactor{{index}}()
                {
                    _epfd = epoll_create1(EPOLL_CLOEXEC);
                }

                public void Add(int fd, Action<int> handler)
                {
                    epoll_event registration = default;
                    registration.events = EPOLLIN | EPOLLET;
                    registration.data.fd = fd;
                    epoll_ctl(_epfd, EPOLL_CTL_ADD, fd, &registration);
                    _handlers[fd] = handler;
                }

                public void Run()
                {
                    epoll_event* events = stackalloc epoll_event[MaxEvents];
                    while (!_stopping)
                    {
                        int count = epoll_wait(_epfd, events, MaxEvents, 1000);
                        if (count < 0)
                        {
                            if (errno == EINTR)
                            {
                                continue;
                            }

                            break;
                        }

                        for (int i = 0; i < count; i++)
                        {
                            int fd = events[i].data.fd;
                            if (fd == _listenFd)
                            {
                                AcceptAll();
                                continue;
                            }

                            DrainReadable(fd);
                            if (_handlers.TryGetValue(fd, out Action<int> handler))
                            {
                                handler(fd);
                            }

                            ServerMetrics.Record("reactor{{index}}.events", 1);
            {{audit}}
                        }
                    }
                }

                public void Stop() => _stopping = true;

                public void Dispose()
                {
                    _stopping = true;
                    close(_epfd);
                }

                private void DrainReadable(int fd)
                {
                    byte* buffer = stackalloc byte[4096];
                    while (true)
                    {
                        long got = read(fd, buffer, 4096);
                        if (got > 0)
                        {
                            continue;
                        }

                        if (got < 0 && errno == EINTR)
                        {
                            continue;
                        }

                        break;
                    }
                }

                private void AcceptAll()
                {
                    while (true)
                    {
                        int client = accept4(_listenFd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
                        if (client < 0)
                        {
                            break;
                        }

                        Add(client, DrainReadable);
                    }
                }

                private static void Audit(int fd)
                {
                    File.AppendAllText("audit.log", "event on fd " + fd + Environment.NewLine);
                }
            }

            """;
    }
}
