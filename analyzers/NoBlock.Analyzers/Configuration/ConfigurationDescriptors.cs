using Microsoft.CodeAnalysis;

namespace NoBlock.Analyzers.Configuration;

internal static class ConfigurationDescriptors
{
    /// <summary>NB9001: a configuration line (AdditionalFiles list or .editorconfig key) that could not be used.</summary>
    public static readonly DiagnosticDescriptor InvalidConfiguration = new(
        RuleIdentifiers.InvalidConfiguration,
        title: "Invalid NoBlock configuration",
        messageFormat: "{0}: {1}",
        category: RuleCategories.Configuration,
        defaultSeverity: DiagnosticSeverity.Warning,
        isEnabledByDefault: true,
        description: "A line of NoBlock.Blocking.txt or NoBlock.Handlers.txt, or a value of noblock.handler_attributes in .editorconfig, names nothing NoBlock can use. It is reported rather than ignored, so a typo cannot silently switch a check off.",
        helpLinkUri: RuleIdentifiers.GetHelpUri(RuleIdentifiers.InvalidConfiguration),
        customTags: WellKnownDiagnosticTags.CompilationEnd);
}
