using System;
using Microsoft.CodeAnalysis;

namespace NoBlock.Analyzers.Infrastructure;

/// <summary>
/// Analyzer callbacks never throw an anonymous AD0001: an unexpected exception is rethrown with the file, line
/// and column of the code being analysed, so that the bug can be reproduced from the report.
/// </summary>
internal static class SafeCallbacks
{
    public static void Run(SyntaxNode? where, Action action)
    {
        try
        {
            action();
        }
        catch (Exception exception) when (exception is not OperationCanceledException && where is not null)
        {
            var span = where.GetLocation().GetLineSpan();
            throw new InvalidOperationException(
                $"NoBlock analyzer failed while analysing {span.Path}({span.StartLinePosition.Line + 1},{span.StartLinePosition.Character + 1}): {exception.GetType().Name}: {exception.Message}",
                exception);
        }
    }
}
