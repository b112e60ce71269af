using Microsoft.CodeAnalysis.Testing;
using NoBlock.Analyzers.Rules;
using Xunit;
using Verify = NoBlock.Analyzers.Tests.Verification.AnalyzerVerifier<NoBlock.Analyzers.Rules.BlockingCallInHandlerAnalyzer>;

namespace NoBlock.Analyzers.Tests.Blocking;

/// <summary>
/// NB0002 reach (issue 10, section 1): every construct that runs user code synchronously is a call — accessors,
/// operators and conversions, constructors with their initializers and base chains, using, foreach, deconstruction,
/// await — each reported at the construct with the chain in the message; near-misses that run nothing blocking stay silent.
/// </summary>
public sealed class TransitiveBlockingCallReachTests
{
    internal static DiagnosticResult Chain(int location, string handler, string called, string chain)
        => new DiagnosticResult(BlockingCallInHandlerAnalyzer.TransitiveBlockingCallRule).WithLocation(location).WithArguments(handler, called, chain);

    [Fact]
    public Task Setters_and_compound_assignments_run_the_setter() => Verify.VerifyAsync("""
        using System.IO;
        using NoBlock;

        class Settings
        {
            private string _value = "";
            public string Value
            {
                get => _value;
                set { _value = value; File.WriteAllText("settings", value); }
            }

            public int Count { get => 0; set => File.WriteAllText("count", value.ToString()); }
            public string? Name { get => null; set => File.WriteAllText("name", value!); }
            public int Plain { get; set; }
        }

        class Server
        {
            [EventLoopHandler]
            void OnReadable(Settings settings)
            {
                var read = settings.Value;
                {|#0:settings.Value|} = "x";
                {|#1:settings.Count|}++;
                {|#2:settings.Count|} += 2;
                {|#3:settings.Name|} ??= "n";
                settings.Plain++;
                settings.Plain += settings.Plain;
            }
        }
        """,
        Chain(0, "'Server.OnReadable'", "Value.set", "OnReadable → Value.set → File.WriteAllText (Test0.cs:10)"),
        Chain(1, "'Server.OnReadable'", "Count.set", "OnReadable → Count.set → File.WriteAllText (Test0.cs:13)"),
        Chain(2, "'Server.OnReadable'", "Count.set", "OnReadable → Count.set → File.WriteAllText (Test0.cs:13)"),
        Chain(3, "'Server.OnReadable'", "Name.set", "OnReadable → Name.set → File.WriteAllText (Test0.cs:14)"));

    [Fact]
    public Task Indexer_getters_and_setters_are_calls() => Verify.VerifyAsync("""
        using System.IO;
        using System.Threading;
        using NoBlock;

        class Table
        {
            public string this[string key]
            {
                get => File.ReadAllText(key);
                set => File.WriteAllText(key, value);
            }
        }

        class Counters
        {
            public int this[int i] { get => i; set => Thread.Sleep(value); }
        }

        class Server
        {
            [EventLoopHandler]
            void OnReadable(Table table, Counters counters)
            {
                var a = {|#0:table["a"]|};
                {|#1:table["b"]|} = "x";
                {|#2:counters[1]|}++;
                var c = counters[2];
            }
        }
        """,
        Chain(0, "'Server.OnReadable'", "Table[]", "OnReadable → Table[] → File.ReadAllText (Test0.cs:9)"),
        Chain(1, "'Server.OnReadable'", "Table[].set", "OnReadable → Table[].set → File.WriteAllText (Test0.cs:10)"),
        Chain(2, "'Server.OnReadable'", "Counters[].set", "OnReadable → Counters[].set → Thread.Sleep (Test0.cs:16)"));

    [Fact]
    public Task User_defined_operators_and_conversions_are_calls() => Verify.VerifyAsync("""
        using System.IO;
        using System.Threading;
        using NoBlock;

        readonly struct Money
        {
            public readonly decimal Amount;
            public Money(decimal amount) { Amount = amount; }
            public static Money operator +(Money a, Money b) => new Money(a.Amount + b.Amount + Rates.Lookup());
            public static Money operator -(Money a) => new Money(-a.Amount);
            public static Money operator ++(Money a) { Thread.Sleep(1); return a; }
            public static implicit operator Money(decimal d) => new Money(d * Rates.Lookup());
            public static explicit operator decimal(Money m) => m.Amount;
        }

        static class Rates
        {
            public static decimal Lookup() => decimal.Parse(File.ReadAllText("rates"));
        }

        class Server
        {
            [EventLoopHandler]
            void OnReadable(Money a, Money b)
            {
                var sum = {|#0:a + b|};
                var negative = -a;
                Money converted = {|#1:5m|};
                var amount = (decimal)a;
                {|#2:a++|};
                {|#3:b += a|};
            }
        }
        """,
        Chain(0, "'Server.OnReadable'", "operator +", "OnReadable → operator + → Lookup → File.ReadAllText (Test0.cs:18)"),
        Chain(1, "'Server.OnReadable'", "implicit operator Money", "OnReadable → implicit operator Money → Lookup → File.ReadAllText (Test0.cs:18)"),
        Chain(2, "'Server.OnReadable'", "operator ++", "OnReadable → operator ++ → Thread.Sleep (Test0.cs:11)"),
        Chain(3, "'Server.OnReadable'", "operator +", "OnReadable → operator + → Lookup → File.ReadAllText (Test0.cs:18)"));

    [Fact]
    public Task Constructors_run_initializers_and_their_base_and_this_chains() => Verify.VerifyAsync("""
        using System.IO;
        using System.Threading;
        using NoBlock;

        class Config
        {
            private readonly string _text = File.ReadAllText("config.json");
        }

        class Cached
        {
            public string Text { get; } = File.ReadAllText("cache");
            public Cached() { }
            public Cached(int n) : this() { }
        }

        class Base
        {
            protected Base(string path) { File.ReadAllText(path); }
        }

        class Derived : Base
        {
            public Derived() : base("d") { }
        }

        class Slow
        {
            public Slow() { Thread.Sleep(1); }
        }

        class Child : Slow { }

        class ChildWithBody : Slow
        {
            public ChildWithBody(int n) { }
        }

        class Primary(string path) : Base(path) { }

        class Quiet
        {
            private readonly int _n = 42;
            private static readonly string Shared = "s";
        }

        class Server
        {
            [EventLoopHandler]
            void OnReadable()
            {
                var config = {|#0:new Config()|};
                var cached = {|#1:new Cached(1)|};
                var derived = {|#2:new Derived()|};
                var child = {|#3:new Child()|};
                var withBody = {|#4:new ChildWithBody(1)|};
                var primary = {|#5:new Primary("p")|};
                var quiet = new Quiet();
            }
        }
        """,
        Chain(0, "'Server.OnReadable'", "Config", "OnReadable → Config → File.ReadAllText (Test0.cs:7)"),
        Chain(1, "'Server.OnReadable'", "Cached", "OnReadable → Cached → Cached → File.ReadAllText (Test0.cs:12)"),
        Chain(2, "'Server.OnReadable'", "Derived", "OnReadable → Derived → Base → File.ReadAllText (Test0.cs:19)"),
        Chain(3, "'Server.OnReadable'", "Child", "OnReadable → Child → Slow → Thread.Sleep (Test0.cs:29)"),
        Chain(4, "'Server.OnReadable'", "ChildWithBody", "OnReadable → ChildWithBody → Slow → Thread.Sleep (Test0.cs:29)"),
        Chain(5, "'Server.OnReadable'", "Primary", "OnReadable → Primary → Base → File.ReadAllText (Test0.cs:19)"));

    [Fact]
    public Task Using_runs_the_resources_Dispose() => Verify.VerifyAsync("""
        using System;
        using System.IO;
        using System.Threading;
        using System.Threading.Tasks;
        using NoBlock;

        sealed class Lease : IDisposable
        {
            public void Dispose() => File.Delete("lease");
        }

        sealed class QuietLease : IDisposable
        {
            public void Dispose() { }
        }

        ref struct Scope
        {
            public void Dispose() => Thread.Sleep(1);
        }

        sealed class AsyncLease : IAsyncDisposable
        {
            public ValueTask DisposeAsync() { Thread.Sleep(1); return default; }
        }

        class Server
        {
            [EventLoopHandler]
            async Task OnReadable()
            {
                using ({|#0:var lease = new Lease()|}) { }
                using {|#1:var scope = new Scope()|};
                using ({|#2:new Lease()|}) { }
                using (new QuietLease()) { }
                using (var stream = new MemoryStream()) { }
                await using ({|#3:var later = new AsyncLease()|}) { }
            }
        }
        """,
        Chain(0, "'Server.OnReadable'", "Dispose", "OnReadable → Dispose → File.Delete (Test0.cs:9)"),
        Chain(1, "'Server.OnReadable'", "Dispose", "OnReadable → Dispose → Thread.Sleep (Test0.cs:19)"),
        Chain(2, "'Server.OnReadable'", "Dispose", "OnReadable → Dispose → File.Delete (Test0.cs:9)"),
        Chain(3, "'Server.OnReadable'", "DisposeAsync", "OnReadable → DisposeAsync → Thread.Sleep (Test0.cs:24)"));

    [Fact]
    public Task Foreach_over_a_user_type_runs_its_enumerator() => Verify.VerifyAsync("""
        using System.Collections;
        using System.Collections.Generic;
        using System.IO;
        using System.Threading;
        using NoBlock;

        sealed class Cells
        {
            public Enumerator GetEnumerator() => new Enumerator();

            public struct Enumerator
            {
                public bool MoveNext() => false;
                public int Current { get { Thread.Sleep(1); return 0; } }
            }
        }

        sealed class Rows
        {
            public Enumerator GetEnumerator() => new Enumerator();

            public struct Enumerator
            {
                public bool MoveNext() { Thread.Sleep(1); return false; }
                public int Current => 0;
            }
        }

        sealed class Pages : IEnumerable<string>
        {
            public IEnumerator<string> GetEnumerator()
            {
                foreach (var line in File.ReadLines("pages"))
                {
                    yield return line;
                }
            }

            IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
        }

        sealed class Quiet
        {
            public Enumerator GetEnumerator() => new Enumerator();

            public struct Enumerator
            {
                public bool MoveNext() => false;
                public int Current => 0;
            }
        }

        class Server
        {
            [EventLoopHandler]
            void OnReadable(Cells cells, Rows rows, Pages pages, Quiet quiet, List<int> list)
            {
                foreach (var cell in {|#0:cells|}) { }
                foreach (var row in {|#1:rows|}) { }
                foreach (var page in {|#2:pages|}) { }
                foreach (var item in quiet) { }
                foreach (var item in list) { }
            }
        }
        """,
        Chain(0, "'Server.OnReadable'", "Current", "OnReadable → Current → Thread.Sleep (Test0.cs:14)"),
        Chain(1, "'Server.OnReadable'", "MoveNext", "OnReadable → MoveNext → Thread.Sleep (Test0.cs:24)"),
        Chain(2, "'Server.OnReadable'", "GetEnumerator", "OnReadable → GetEnumerator → File.ReadLines (Test0.cs:33)"));

    [Fact]
    public Task Deconstruction_runs_Deconstruct() => Verify.VerifyAsync("""
        using System.IO;
        using NoBlock;

        sealed class Endpoint
        {
            public void Deconstruct(out string host, out int port) { host = File.ReadAllText("host"); port = 80; }
        }

        sealed class Pair
        {
            public void Deconstruct(out int a, out int b) { a = 1; b = 2; }
        }

        class Server
        {
            [EventLoopHandler]
            void OnReadable(Endpoint endpoint, Pair pair)
            {
                {|#0:var (host, port) = endpoint|};
                if (endpoint is {|#1:("h", _)|}) { }
                var (a, b) = pair;
                var (x, y) = (1, 2);
            }
        }
        """,
        Chain(0, "'Server.OnReadable'", "Deconstruct", "OnReadable → Deconstruct → File.ReadAllText (Test0.cs:6)"),
        Chain(1, "'Server.OnReadable'", "Deconstruct", "OnReadable → Deconstruct → File.ReadAllText (Test0.cs:6)"));

    [Fact]
    public Task Await_on_a_user_awaitable_runs_its_awaiter() => Verify.VerifyAsync("""
        using System;
        using System.IO;
        using System.Runtime.CompilerServices;
        using System.Threading;
        using System.Threading.Tasks;
        using NoBlock;

        sealed class SlowResult
        {
            public Awaiter GetAwaiter() => new Awaiter();

            public readonly struct Awaiter : INotifyCompletion
            {
                public bool IsCompleted => true;
                public int GetResult() { Thread.Sleep(1); return 0; }
                public void OnCompleted(Action continuation) => continuation();
            }
        }

        sealed class SlowCheck
        {
            public Awaiter GetAwaiter() => new Awaiter();

            public readonly struct Awaiter : INotifyCompletion
            {
                public bool IsCompleted => File.Exists("done") && File.ReadAllText("done") == "1";
                public void GetResult() { }
                public void OnCompleted(Action continuation) => continuation();
            }
        }

        sealed class Quick
        {
            public Awaiter GetAwaiter() => new Awaiter();

            public readonly struct Awaiter : INotifyCompletion
            {
                public bool IsCompleted => true;
                public void GetResult() { }
                public void OnCompleted(Action continuation) => continuation();
            }
        }

        class Server
        {
            [EventLoopHandler]
            async Task OnReadable(SlowResult slow, SlowCheck check, Quick quick, Task task)
            {
                var n = {|#0:await slow|};
                {|#1:await check|};
                await quick;
                await task;
                await Task.Yield();
            }
        }
        """,
        Chain(0, "'Server.OnReadable'", "GetResult", "OnReadable → GetResult → Thread.Sleep (Test0.cs:15)"),
        Chain(1, "'Server.OnReadable'", "IsCompleted", "OnReadable → IsCompleted → File.ReadAllText (Test0.cs:26)"));

    [Fact]
    public Task Local_functions_inline_lambdas_and_consumed_iterators_in_callees() => Verify.VerifyAsync("""
        using System;
        using System.Collections.Generic;
        using System.IO;
        using System.Linq;
        using System.Threading;
        using NoBlock;

        class Server
        {
            private Action? _later;

            [EventLoopHandler]
            void OnReadable(int fd)
            {
                {|#0:WithLocal()|};
                {|#1:WithInlineLambda()|};
                StoresLambda();
                foreach (var line in {|#2:Lines()|}) { }
                var count = {|#3:Lines()|}.Count();
            }

            void WithLocal()
            {
                Wait();
                void Wait() => Thread.Sleep(1);
            }

            void WithInlineLambda() => new List<int> { 1 }.ForEach(i => Thread.Sleep(i));

            void StoresLambda() => _later = () => Thread.Sleep(1);

            IEnumerable<string> Lines()
            {
                foreach (var line in File.ReadLines("lines"))
                {
                    yield return line;
                }
            }
        }
        """,
        Chain(0, "'Server.OnReadable'", "WithLocal", "OnReadable → WithLocal → Thread.Sleep (Test0.cs:25)"),
        Chain(1, "'Server.OnReadable'", "WithInlineLambda", "OnReadable → WithInlineLambda → Thread.Sleep (Test0.cs:28)"),
        Chain(2, "'Server.OnReadable'", "Lines", "OnReadable → Lines → File.ReadLines (Test0.cs:34)"),
        Chain(3, "'Server.OnReadable'", "Lines", "OnReadable → Lines → File.ReadLines (Test0.cs:34)"));
}
