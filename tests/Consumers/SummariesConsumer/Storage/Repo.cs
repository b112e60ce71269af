namespace Storage;

public static class Repo
{
    /// <summary>Blocks, through an internal helper: recorded in the assembly.</summary>
    public static string Load(string path) => Helper.Read(path);

    /// <summary>Pure: records nothing.</summary>
    public static int Count(string text) => text.Length;
}

internal static class Helper
{
    internal static string Read(string path) => File.ReadAllText(path);
}
