using Xunit;
using NoBlock.Analyzers.Rules;
using NoBlock.Analyzers.Tests.Verification;
using Verify = NoBlock.Analyzers.Tests.Verification.AnalyzerVerifier<NoBlock.Analyzers.Rules.BlockingCallInHandlerAnalyzer>;

namespace NoBlock.Analyzers.Tests.Blocking;

/// <summary>NB0005: synchronous console output in handler code (a suggestion, separate from NB0001).</summary>
public sealed class ConsoleWriteInHandlerTests
{
    [Fact]
    public Task Console_writes_in_handlers_are_suggestions() => Verify.VerifyAsync("""
        using System;
        using NoBlock;

        class Server
        {
            [EventLoopHandler]
            void OnReadable(int fd)
            {
                {|NB0005:Console.WriteLine("readable")|};
                {|NB0005:Console.Write(fd)|};
                {|NB0005:Console.Out.WriteLine("x")|};
                {|NB0005:Console.Error.Write("y")|};
                {|NB0005:Console.Out.Flush()|};
            }
        }
        """);

    [Fact]
    public Task Other_writers_and_code_outside_handlers_are_silent() => Verify.VerifyAsync("""
        using System;
        using System.IO;
        using NoBlock;

        class Server
        {
            [EventLoopHandler]
            void OnReadable(int fd)
            {
                var log = new StringWriter();
                log.WriteLine("buffered in memory");
                TextWriter writer = log;
                writer.Write(fd);
            }

            void Main() => Console.WriteLine("starting");
        }
        """);
}
