using System.CommandLine;
using System.Globalization;
using System.Net;

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

    /// <summary>
    /// A whole-number option with a range: "--name N" or "--name=N", thousands separators allowed ("20,000" reads as it is
    /// written in a table); a value that is not a number or is out of range is an error that names the option.
    /// </summary>
    public static Option<int?> Number(string name, int min, int max, string description, string? rangeHint = null) => new(name)
    {
        HelpName = "N",
        Description = description,
        Arity = ArgumentArity.ExactlyOne,
        CustomParser = result =>
        {
            var text = result.Tokens.Single().Value;
            if (!int.TryParse(text, NumberStyles.AllowThousands | NumberStyles.AllowLeadingWhite | NumberStyles.AllowTrailingWhite, CultureInfo.InvariantCulture, out int value))
            {
                result.AddError($"{name} '{text}' is not a whole number");
                return null;
            }
            if (value < min || value > max)
            {
                result.AddError($"{name} {value.ToString("N0", CultureInfo.InvariantCulture)} is out of range: {min.ToString("N0", CultureInfo.InvariantCulture)}..{max.ToString("N0", CultureInfo.InvariantCulture)}{(rangeHint is null ? "" : $" ({rangeHint})")}");
                return null;
            }
            return value;
        },
    };

    /// <summary>An IP address option ("--address 127.0.0.1").</summary>
    public static Option<IPAddress?> Address(string name, string description) => new(name)
    {
        HelpName = "IP",
        Description = description,
        Arity = ArgumentArity.ExactlyOne,
        CustomParser = result =>
        {
            var text = result.Tokens.Single().Value;
            if (IPAddress.TryParse(text, out var parsed))
            {
                return parsed;
            }
            result.AddError($"{name} '{text}' is not an IP address such as 127.0.0.1 or ::1");
            return null;
        },
    };
}
