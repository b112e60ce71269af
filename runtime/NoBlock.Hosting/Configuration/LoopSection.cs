using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace NoBlock.Hosting.Configuration;

/// <summary>
/// Configuration section <c>NoBlock:Loops:&lt;name&gt;</c>: binds it onto a loop's options after checking every key and
/// value, so that a typo or a bad value fails the host's start with the key's full path instead of being ignored.
/// </summary>
internal static class LoopSection
{
    public const string Root = "NoBlock:Loops";

    /// <summary>The group-only key: how many loops.</summary>
    public const string LoopCountKey = nameof(EventLoopGroupOptions.LoopCount);

    public static string PathOf(string name) => $"{Root}:{name}";

    /// <summary>Binds the loop's section (if any) onto <paramref name="options"/>; throws with every problem found.</summary>
    /// <returns>The group's <c>LoopCount</c> when <paramref name="isGroup"/> and the section sets it.</returns>
    public static int? Bind(IConfiguration? configuration, string name, EventLoopOptions options, bool isGroup)
    {
        var section = configuration?.GetSection(PathOf(name));
        if (section is null || !section.GetChildren().Any())
        {
            return null;
        }
        var problems = new List<string>();
        int? loopCount = null;
        foreach (var child in section.GetChildren())
        {
            if (isGroup && string.Equals(child.Key, LoopCountKey, StringComparison.OrdinalIgnoreCase))
            {
                loopCount = ParseLoopCount(child, problems);
                continue;
            }
            Check(child, typeof(EventLoopOptions), problems, isGroup);
        }
        if (problems.Count > 0)
        {
            throw new Microsoft.Extensions.Options.OptionsValidationException(name, isGroup ? typeof(EventLoopGroupOptions) : typeof(EventLoopOptions), problems);
        }
        // Every key and value was checked above, so the binder only sets what is known to be right.
        section.Bind(options);
        return loopCount;
    }

    private static int? ParseLoopCount(IConfigurationSection child, List<string> problems)
    {
        if (child.Value is not { } text || !int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int count))
        {
            problems.Add($"{child.Path} = '{child.Value}' is not a whole number: write the number of loops, or 0 for one per core.");
            return null;
        }
        return count; // the range is the validator's (it applies to code-set values too)
    }

    /// <summary>Checks one key of an options object: known, settable from configuration, and a value of its type.</summary>
    private static void Check(IConfigurationSection child, Type owner, List<string> problems, bool isGroup)
    {
        var property = owner.GetProperty(child.Key, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
        if (property is null || !property.CanWrite)
        {
            var known = string.Join(", ", SettableNames(owner, isGroup && owner == typeof(EventLoopOptions)));
            problems.Add($"{child.Path} is not a setting of {Describe(owner)}. Settings: {known}.");
            return;
        }
        if (owner == typeof(EventLoopOptions) && property.Name == nameof(EventLoopOptions.Name))
        {
            problems.Add($"{child.Path}: a loop's name is its key under {Root} (here '{SectionName(child)}'); rename the section instead, or set Name in the configure callback.");
            return;
        }
        var type = property.PropertyType;
        if (IsNested(type))
        {
            if (child.Value is not null && !child.GetChildren().Any())
            {
                problems.Add($"{child.Path} is a group of settings ({string.Join(", ", SettableNames(type, false))}), not a value.");
                return;
            }
            foreach (var grandchild in child.GetChildren())
            {
                Check(grandchild, type, problems, isGroup);
            }
            return;
        }
        if (!IsValue(type))
        {
            string what = typeof(Delegate).IsAssignableFrom(type) ? "a callback" : $"a {type.Name}";
            problems.Add($"{child.Path} cannot be set from configuration (it is {what}); set {owner.Name}.{property.Name} in the configure callback of AddEventLoop/AddEventLoopGroup.");
            return;
        }
        if (child.GetChildren().Any())
        {
            problems.Add($"{child.Path} is a single value ({Expected(type)}), not a group of settings.");
            return;
        }
        if (!TryConvert(child.Value, type))
        {
            problems.Add($"{child.Path} = '{child.Value}' is not {Expected(type)}.");
        }
    }

    private static string SectionName(IConfigurationSection child)
    {
        var parts = child.Path.Split(':');
        return parts.Length >= 3 ? parts[2] : child.Path;
    }

    private static bool IsNested(Type type) => type.IsClass && type.Namespace == typeof(EventLoopOptions).Namespace && type.GetConstructor(Type.EmptyTypes) is not null;

    private static bool IsValue(Type type) => type.IsPrimitive || type.IsEnum || type == typeof(TimeSpan) || type == typeof(string) || type == typeof(decimal);

    private static bool TryConvert(string? value, Type type)
    {
        if (value is null)
        {
            return false;
        }
        try
        {
            object? converted = TypeDescriptor.GetConverter(type).ConvertFromInvariantString(value);
            return !type.IsEnum || (converted is not null && Enum.IsDefined(type, converted));
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or NotSupportedException or OverflowException || ex.InnerException is FormatException or OverflowException)
        {
            return false;
        }
    }

    private static string Expected(Type type)
    {
        if (type == typeof(TimeSpan))
        {
            return "a duration (hh:mm:ss.fff, e.g. 00:00:00.250 for 250 ms)";
        }
        if (type == typeof(bool))
        {
            return "true or false";
        }
        if (type.IsEnum)
        {
            return $"one of {string.Join(", ", Enum.GetNames(type))}";
        }
        if (type == typeof(int) || type == typeof(long))
        {
            return "a whole number";
        }
        return $"a {type.Name}";
    }

    private static string Describe(Type owner) => owner == typeof(EventLoopOptions) ? "an event loop" : $"{owner.Name} (an event loop's {owner.Name.Replace("Options", "", StringComparison.Ordinal)} settings)";

    private static IEnumerable<string> SettableNames(Type owner, bool withLoopCount)
    {
        var names = owner.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite && p.Name != nameof(EventLoopOptions.Name) && (IsValue(p.PropertyType) || IsNested(p.PropertyType)))
            .Select(p => IsNested(p.PropertyType) ? p.Name + ":*" : p.Name);
        return withLoopCount ? names.Prepend(LoopCountKey) : names;
    }
}
