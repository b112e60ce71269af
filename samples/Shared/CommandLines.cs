using System.CommandLine;

namespace NoBlock.Samples;

/// <summary>How every sample runs its System.CommandLine command: bad arguments are exit code 2, with the reason.</summary>
internal static class CommandLines
{
    /// <summary>Exit code for arguments that do not parse (as the samples' usage texts say).</summary>
    public const int BadArguments = 2;

    /// <summary>
    /// Parses <paramref name="args"/>; on errors prints each (prefixed with the program's name) and a pointer to
    /// <c>--help</c> on standard error and returns <see cref="BadArguments"/>; otherwise runs the command's action
    /// (or <c>--help</c>) and returns its exit code.
    /// </summary>
    public static int Run(RootCommand command, string[] args)
    {
        var parsed = command.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors)
            {
                Console.Error.WriteLine($"{command.Name}: {error.Message}");
            }
            Console.Error.WriteLine($"Try '{command.Name} --help'.");
            return BadArguments;
        }
        return parsed.Invoke();
    }

    /// <summary>A validator for an integer option: a clear error naming the option and the range.</summary>
    public static void InRange(this Option<int?> option, int min, int max, string? hint = null) =>
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is int value && (value < min || value > max))
            {
                result.AddError($"{option.Name} {value} is out of range: {min} to {max}{(hint is null ? "" : $" ({hint})")}.");
            }
        });
}
