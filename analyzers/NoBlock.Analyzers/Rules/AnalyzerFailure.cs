using System;
using Microsoft.CodeAnalysis;

namespace NoBlock.Analyzers.Rules;

/// <summary>
/// NoBlock's analyzers never let an exception escape as an AD0001 with no location. A failure is reported as
/// NB9002 (informational) at the code being analyzed, with the exception type and message, so that a user can
/// report it with the snippet that caused it and the rest of the build is unaffected.
/// </summary>
internal static class AnalyzerFailure
{
    public const string Id = RuleIdentifiers.AnalyzerFailure;

    public static readonly DiagnosticDescriptor Descriptor = new(
        Id,
        title: "NoBlock analyzer could not analyze this code",
        messageFormat: "NoBlock's {0} analysis failed here and skipped this code ({1}: {2}); please report it with this snippet",
        category: RuleCategories.EventLoop,
        defaultSeverity: DiagnosticSeverity.Info,
        isEnabledByDefault: true,
        description: "An internal error in a NoBlock analyzer, reported where it happened instead of as an AD0001.",
        helpLinkUri: RuleIdentifiers.GetHelpUri(Id));

    /// <param name="analysis">Which analysis failed, for the message: "edge-triggered drain (NB0003/NB0004)".</param>
    public static void Guard(string analysis, Location? location, Action<Diagnostic> report, Action action)
    {
        try
        {
            action();
        }
        catch (OperationCanceledException)
        {
            throw;
        }
        catch (Exception exception)
        {
            try
            {
                report(Diagnostic.Create(Descriptor, location ?? Location.None, analysis, exception.GetType().Name, exception.Message));
            }
            catch (Exception)
            {
                // Reporting itself failed (e.g. a location outside the analyzed tree): stay silent rather than crash.
            }
        }
    }
}
