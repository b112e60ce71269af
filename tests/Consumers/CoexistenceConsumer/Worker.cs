namespace Coexistence;

/// <summary>The same shapes in code that does not run on an EventLoop: the other analyzers' advice stands.</summary>
public sealed class Worker
{
    public int Count { get; private set; }

    public async void Start()                             // VSTHRD100, AsyncFixer03
    {
        await Task.Delay(1);                              // MA0004, CA2007
        Count++;
    }

    public void Later() => Run(async () => await Task.Delay(1)); // VSTHRD101, MA0147, AsyncFixer03, MA0004, CA2007

    private static void Run(Action action) => action();
}
