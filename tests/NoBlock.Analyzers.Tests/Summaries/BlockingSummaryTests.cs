using Microsoft.CodeAnalysis.Testing;
using NoBlock.Analyzers.Rules;
using NoBlock.Analyzers.Tests.Verification;
using Xunit;

namespace NoBlock.Analyzers.Tests.Summaries;

/// <summary>
/// Issue 14: a library built with NoBlock records which exposed members block (SummaryGenerator), and NB0002 in a
/// consumer follows the call into it — from the DLL and from the referenced compilation alike.
/// </summary>
public sealed class BlockingSummaryTests
{
    private const string Storage = """
        namespace Storage
        {
            public static class Repo
            {
                public static string Load(string path) => Helper.Read(path);

                public static int Count(string text) => text.Length;

                internal static string LoadInternal(string path) => System.IO.File.ReadAllText(path);
            }

            public class Cache
            {
                public virtual string Get(string key) => System.IO.File.ReadAllText(key);

                public void Wait() => System.Threading.Thread.Sleep(10);
            }

            internal static class Helper
            {
                internal static string Read(string path) => System.IO.File.ReadAllText(path);
            }
        }
        """;

    private const string Server = """
        using NoBlock;

        class Server
        {
            [EventLoopHandler]
            void OnReadable()
            {
                var text = Storage.Repo.Load("data.txt");
                var count = Storage.Repo.Count(text);
            }
        }
        """;

    [Fact]
    public void Exposed_members_that_block_are_recorded_with_their_chain_tail_and_nothing_else()
    {
        var summaries = SummaryHarness.Summaries(SummaryHarness.Build(Storage));
        Assert.Equal(new Dictionary<string, string>
        {
            ["NoBlock.Blocking M:Storage.Repo.Load(System.String)"] = "Helper.Read → File.ReadAllText (Storage: Repo.cs:21)",
            ["NoBlock.Blocking M:Storage.Cache.Wait"] = "Thread.Sleep (Storage: Repo.cs:16)",
        }, summaries);
    }

    [Fact]
    public async Task Handler_calling_a_blocking_library_member_gets_NB0002_with_the_whole_chain_from_the_DLL_and_from_source()
    {
        var findings = await SummaryHarness.AnalyzeBothWays(Server, SummaryHarness.Build(Storage));
        Assert.Equal(
            [
                "NB0002 8:20 'Server.OnReadable' calls 'Load', which blocks the event-loop thread: OnReadable → Repo.Load → Helper.Read → File.ReadAllText (Storage: Repo.cs:21); move the blocking work off the loop (loop.Offload) or make the chain asynchronous",
            ],
            findings);
    }

    [Fact]
    public async Task Without_summaries_the_call_is_not_followed()
    {
        var library = SummaryHarness.Build(Storage, emitSummaries: false);
        Assert.Null(library.Generated);
        Assert.Empty(await SummaryHarness.AnalyzeBothWays(Server, library));
    }

    [Fact]
    public void Explicit_true_emits_as_the_default_does()
        => Assert.NotNull(SummaryHarness.Build(Storage, emitSummaries: true).Generated);

    [Fact]
    public async Task A_not_blocking_line_in_the_library_list_keeps_the_member_out_of_the_summary()
    {
        var library = SummaryHarness.Build(Storage, files: [("NoBlock.Blocking.txt", """
            # the file is a local cache, always in page cache
            !M:Storage.Helper.Read(System.String)
            """)]);
        Assert.Equal(["NoBlock.Blocking M:Storage.Cache.Wait"], SummaryHarness.Summaries(library).Keys);
        Assert.Empty(await SummaryHarness.AnalyzeBothWays(Server, library));
    }

    [Fact]
    public async Task A_not_blocking_line_in_the_consumer_list_ends_the_chain_at_a_library_member()
    {
        var test = new AnalyzerVerifier<BlockingCallInHandlerAnalyzer>.Test { TestCode = Server };
        test.TestState.AdditionalReferences.Add(SummaryHarness.Build(Storage).Image());
        test.TestState.AdditionalFiles.Add(("NoBlock.Blocking.txt", "!M:Storage.Repo.Load(System.String)\n"));
        await test.RunAsync();
    }

    [Fact]
    public async Task Markup_view_of_the_finding_over_the_DLL()
    {
        var test = new AnalyzerVerifier<BlockingCallInHandlerAnalyzer>.Test
        {
            TestCode = """
                using NoBlock;

                class Server
                {
                    [EventLoopHandler]
                    void OnReadable(Storage.Cache cache)
                    {
                        var text = {|NB0002:Storage.Repo.Load("data.txt")|};
                        var count = Storage.Repo.Count(text);
                        {|NB0002:cache.Wait()|};
                        cache.Get("k");                       // virtual: no summary (a call may run an override)
                    }
                }
                """,
        };
        test.TestState.AdditionalReferences.Add(SummaryHarness.Build(Storage).Image());
        await test.RunAsync();
    }

    [Fact]
    public void Internal_members_are_recorded_only_when_the_assembly_shows_its_internals()
    {
        Assert.DoesNotContain("NoBlock.Blocking M:Storage.Repo.LoadInternal(System.String)", SummaryHarness.Summaries(SummaryHarness.Build(Storage)).Keys);
        var visible = SummaryHarness.Build("[assembly: System.Runtime.CompilerServices.InternalsVisibleTo(\"Server\")]\n" + Storage);
        Assert.Equal("File.ReadAllText (Storage: Repo.cs:10)", SummaryHarness.Summaries(visible)["NoBlock.Blocking M:Storage.Repo.LoadInternal(System.String)"]);
    }

    [Fact]
    public async Task Internal_member_called_through_InternalsVisibleTo_is_followed()
    {
        var library = SummaryHarness.Build("[assembly: System.Runtime.CompilerServices.InternalsVisibleTo(\"Server\")]\n" + Storage);
        var findings = await SummaryHarness.AnalyzeBothWays("""
            using NoBlock;

            class Server
            {
                [EventLoopHandler] void OnReadable() => Storage.Repo.LoadInternal("x");
            }
            """, library);
        Assert.Equal(
            ["NB0002 5:45 'Server.OnReadable' calls 'LoadInternal', which blocks the event-loop thread: OnReadable → Repo.LoadInternal → File.ReadAllText (Storage: Repo.cs:10); move the blocking work off the loop (loop.Offload) or make the chain asynchronous"],
            findings);
    }

    [Fact]
    public void A_library_that_exposes_nothing_records_nothing()
        => Assert.Null(SummaryHarness.Build("""
            namespace Storage
            {
                internal static class Repo { internal static string Load(string p) => System.IO.File.ReadAllText(p); }
            }
            """).Generated);

    [Fact]
    public void Summaries_chain_through_a_library_that_calls_another_summarised_library()
    {
        var storage = SummaryHarness.Build(Storage);
        var core = SummaryHarness.Build("""
            namespace Core
            {
                public static class Orders
                {
                    public static string Find(string id) => Storage.Repo.Load(id);
                }
            }
            """, name: "Core", references: storage.Image());
        Assert.Equal("Repo.Load → Helper.Read → File.ReadAllText (Storage: Repo.cs:21)", SummaryHarness.Summaries(core)["NoBlock.Blocking M:Core.Orders.Find(System.String)"]);
    }

    [Fact]
    public async Task Malformed_not_blocking_lines_are_NB9001()
    {
        var test = new AnalyzerVerifier<BlockingCallInHandlerAnalyzer>.Test { TestCode = "class C { }" };
        test.TestState.AdditionalFiles.Add(("NoBlock.Blocking.txt", "!\n!M:C.M ; use MAsync\n"));
        test.TestState.AdditionalFiles.Add(("NoBlock.Handlers.txt", "!M:C.M\n"));
        test.ExpectedDiagnostics.Add(new DiagnosticResult("NB9001", Microsoft.CodeAnalysis.DiagnosticSeverity.Warning)
            .WithSpan("NoBlock.Blocking.txt", 1, 1, 1, 2)
            .WithArguments("NoBlock.Blocking.txt(1)", "'!' names no member: write !M:Namespace.Type.Method(ParameterTypes), !P:Namespace.Type.Property or !T:Namespace.Type"));
        test.ExpectedDiagnostics.Add(new DiagnosticResult("NB9001", Microsoft.CodeAnalysis.DiagnosticSeverity.Warning)
            .WithSpan("NoBlock.Blocking.txt", 2, 1, 2, 20)
            .WithArguments("NoBlock.Blocking.txt(2)", "'!M:C.M' says the member does not block, so ';use MAsync' (what to use instead) has nothing to apply to: remove it"));
        test.ExpectedDiagnostics.Add(new DiagnosticResult("NB9001", Microsoft.CodeAnalysis.DiagnosticSeverity.Warning)
            .WithSpan("NoBlock.Handlers.txt", 1, 1, 1, 7)
            .WithArguments("NoBlock.Handlers.txt(1)", "'!M:C.M': a '!' line says a member does not block; it belongs in NoBlock.Blocking.txt, not NoBlock.Handlers.txt"));
        await test.RunAsync();
    }

    [Fact]
    public void Summaries_read_from_the_DLL_with_System_Reflection_Metadata_as_the_rule_page_shows()
    {
        using var stream = new MemoryStream();
        Assert.True(SummaryHarness.Build(Storage).Compilation.Emit(stream).Success);
        stream.Position = 0;

        // docs/rules/NB0002.md, "How to inspect them".
        var found = new List<string>();
        using var pe = new System.Reflection.PortableExecutable.PEReader(stream);
        var md = System.Reflection.Metadata.PEReaderExtensions.GetMetadataReader(pe);
        foreach (var handle in md.GetAssemblyDefinition().GetCustomAttributes())
        {
            var attribute = md.GetCustomAttribute(handle);
            if (attribute.Constructor.Kind != System.Reflection.Metadata.HandleKind.MemberReference
                || md.GetMemberReference((System.Reflection.Metadata.MemberReferenceHandle)attribute.Constructor).Parent is not { Kind: System.Reflection.Metadata.HandleKind.TypeReference } parent
                || md.GetString(md.GetTypeReference((System.Reflection.Metadata.TypeReferenceHandle)parent).Name) != "AssemblyMetadataAttribute")
            {
                continue;
            }

            var blob = md.GetBlobReader(attribute.Value);
            blob.ReadUInt16();                                   // prolog
            var key = blob.ReadSerializedString();
            if (key?.StartsWith("NoBlock.Blocking ") == true)
            {
                found.Add($"{key} = {blob.ReadSerializedString()}");
            }
        }

        Assert.Equal(
            [
                "NoBlock.Blocking M:Storage.Cache.Wait = Thread.Sleep (Storage: Repo.cs:16)",
                "NoBlock.Blocking M:Storage.Repo.Load(System.String) = Helper.Read → File.ReadAllText (Storage: Repo.cs:21)",
            ],
            found.Order(StringComparer.Ordinal));
    }
}
