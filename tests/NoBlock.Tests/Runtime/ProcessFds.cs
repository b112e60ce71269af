using System.Runtime.CompilerServices;

namespace NoBlock.Tests.Runtime;

/// <summary>
/// Makes the .NET runtime open the fds it opens once per process before any test counts fds. The first use of
/// <c>Console.Out</c>/<c>Console.Error</c> initialises the runtime's terminal and signal handling, which opens a pipe
/// pair that stays open (both ends in this process). A loop that writes its first stderr line (a stall report without
/// a logger, a handler fault) in the middle of a test that counts fds would otherwise show two "leaked" pipes:
/// StressTests.Resets_while_the_server_writes… failed so once in CI ("expected 14 open fds, found 16", a pipe pair).
/// </summary>
internal static class ProcessFds
{
    [ModuleInitializer]
    internal static void OpenRuntimeFdsFirst()
    {
        Console.Out.Flush();
        Console.Error.Flush();
    }
}
