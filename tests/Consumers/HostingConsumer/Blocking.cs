using NoBlock;

// Compiled only with -p:NoBlockConsumerShowWarnings=true: proves the analyzers came with NoBlock.Hosting (NB0001) and
// that, without the Linux marker, CA1416 warns at calls into NoBlock.
internal static class Blocking
{
    public static void Register(EventLoop loop) => loop.Post(() => Thread.Sleep(10));
}
