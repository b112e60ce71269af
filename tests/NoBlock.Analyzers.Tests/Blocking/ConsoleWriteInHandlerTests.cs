using Microsoft.CodeAnalysis.Testing;
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

    internal static DiagnosticResult ConsoleChain(int location, string called, string handler, string chain)
        => new DiagnosticResult(BlockingCallInHandlerAnalyzer.ConsoleWriteRule).WithLocation(location)
            .WithArguments(called, handler, "through " + chain + ": log through a non-blocking logger, or loop.Offload(...) the write");

    /// <summary>NB0005 follows calls like NB0002: reported at the handler's call site, with the chain, still a suggestion.</summary>
    [Fact]
    public Task Console_writes_reached_through_logging_helpers() => Verify.VerifyAsync("""
        using System;
        using System.IO;
        using NoBlock;

        static class Log
        {
            public static void Info(string message) => Write("INFO", message);
            public static void Write(string level, string message) => Console.Error.WriteLine(level + " " + message);
            public static void Quiet(string message) { }
            public static void Slow(string message) { Console.WriteLine(message); File.AppendAllText("log", message); }
        }

        interface ISink { void Emit(string line); }
        sealed class ConsoleSink : ISink { public void Emit(string line) => Console.Out.WriteLine(line); }

        class Server
        {
            private readonly ConsoleSink _sink = new();
            private readonly StringWriter _buffer = new();

            [EventLoopHandler]
            void OnReadable(int fd)
            {
                {|#0:Log.Info("readable")|};
                {|#1:Log.Write("DEBUG", "fd")|};
                Log.Quiet("nothing");
                {|#2:Log.Slow("both")|};
                {|#3:_sink.Emit("line")|};
                Buffer("in memory");
            }

            void Buffer(string text) => _buffer.WriteLine(text);

            void NotAHandler() => Log.Info("outside handlers");
        }
        """,
        ConsoleChain(0, "Info", "'Server.OnReadable'", "OnReadable → Info → Write → TextWriter.WriteLine (Test0.cs:8)"),
        ConsoleChain(1, "Write", "'Server.OnReadable'", "OnReadable → Write → TextWriter.WriteLine (Test0.cs:8)"),
        TransitiveBlockingCallReachTests.Chain(2, "'Server.OnReadable'", "Slow", "OnReadable → Slow → File.AppendAllText (Test0.cs:10)"),
        ConsoleChain(3, "Emit", "'Server.OnReadable'", "OnReadable → Emit → TextWriter.WriteLine (Test0.cs:14)"));
}
