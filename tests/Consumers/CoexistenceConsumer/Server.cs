using NoBlock;

namespace Coexistence;

/// <summary>EventLoop handler code: awaits must resume on the loop, and async void is the loop's handler shape.</summary>
public sealed class Server
{
    private readonly EventLoop _loop;

    public Server(EventLoop loop)
    {
        _loop = loop;
        _loop.Post(async () =>
        {
            await Task.Yield();                           // MA0004, CA2007: suppressed (posted lambda)
            Count++;
        });
    }

    public int Count { get; private set; }

    [EventLoopHandler]
    public async void OnReadable(IoEvent e)               // VSTHRD100, AsyncFixer03: suppressed
    {
        await Task.Delay(1);                              // MA0004, CA2007: suppressed
        Count += e.Fd;
    }
}
