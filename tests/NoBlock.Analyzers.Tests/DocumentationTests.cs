using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Xunit;

namespace NoBlock.Analyzers.Tests;

/// <summary>Every rule has its page, its release-tracking row, and its row in the README table — and they agree.</summary>
public sealed partial class DocumentationTests
{
    private static readonly string Root = FindRoot();

    public static TheoryData<string> RuleIds()
    {
        var data = new TheoryData<string>();
        foreach (var descriptor in Descriptors())
        {
            data.Add(descriptor.Id);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(RuleIds))]
    public void Each_rule_has_a_page_that_its_help_link_points_to(string id)
    {
        var descriptor = Descriptors().Single(d => d.Id == id);
        Assert.Equal($"https://github.com/noblock-dev/noblock/blob/main/docs/rules/{id}.md", descriptor.HelpLinkUri);

        var page = Path.Combine(Root, "docs", "rules", id + ".md");
        Assert.True(File.Exists(page), $"{page} is missing");
        var text = File.ReadAllText(page);
        Assert.StartsWith($"# {id} - {descriptor.Title}\n", text.ReplaceLineEndings("\n"));
        Assert.Contains("## Configuration", text);
        Assert.Contains("## Known limitations", text);
        Assert.Contains($"dotnet_diagnostic.{id}.severity", text);
    }

    [Theory]
    [MemberData(nameof(RuleIds))]
    public void Each_rule_is_tracked_as_a_release_row(string id)
    {
        var descriptor = Descriptors().Single(d => d.Id == id);
        var unshipped = File.ReadAllLines(Path.Combine(Root, "analyzers", "NoBlock.Analyzers", "AnalyzerReleases.Unshipped.md"));
        var row = Assert.Single(unshipped, line => line.StartsWith(id + " ", StringComparison.Ordinal));
        Assert.Contains($"| {descriptor.Category} |", row);
        Assert.Contains($"| {descriptor.DefaultSeverity} |", row);
    }

    [Fact]
    public void Readme_rule_table_lists_exactly_the_rules_with_their_titles_and_severities()
    {
        var readme = File.ReadAllLines(Path.Combine(Root, "README.md"));
        var rows = readme
            .Select(line => RuleRow().Match(line))
            .Where(match => match.Success)
            .ToDictionary(match => match.Groups["id"].Value, match => (Title: match.Groups["title"].Value.Trim(), Severity: match.Groups["severity"].Value.Trim()));

        var expected = Descriptors().ToDictionary(d => d.Id, d => (Title: d.Title.ToString(), Severity: Severity(d.DefaultSeverity)));
        Assert.Equal(expected.OrderBy(e => e.Key), rows.OrderBy(e => e.Key));
    }

    private static string Severity(DiagnosticSeverity severity) => severity switch
    {
        DiagnosticSeverity.Error => "error",
        DiagnosticSeverity.Warning => "warning",
        DiagnosticSeverity.Info => "suggestion",
        _ => "hidden",
    };

    [GeneratedRegex(@"^\|\s*\[(?<id>NB\d{4})\]\(docs/rules/\k<id>\.md\)\s*\|(?<title>[^|]+)\|(?<severity>[^|]+)\|")]
    private static partial Regex RuleRow();

    private static IEnumerable<DiagnosticDescriptor> Descriptors()
        => typeof(RuleIdentifiers).Assembly.GetTypes()
            .Where(t => !t.IsAbstract && typeof(DiagnosticAnalyzer).IsAssignableFrom(t) && t.GetCustomAttribute<DiagnosticAnalyzerAttribute>() is not null)
            .SelectMany(t => ((DiagnosticAnalyzer)Activator.CreateInstance(t)!).SupportedDiagnostics)
            .DistinctBy(d => d.Id);

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "NoBlock.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("NoBlock.sln not found above " + AppContext.BaseDirectory);
    }
}
