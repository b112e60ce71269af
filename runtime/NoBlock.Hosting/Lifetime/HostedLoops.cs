namespace NoBlock.Hosting.Lifetime;

/// <summary>Facts shared by the hosted loop and group services.</summary>
internal static class HostedLoops
{
    /// <summary>
    /// How long the container's disposal of a hosted loop (after a host start that failed, when no stop ran) waits for
    /// it to stop. 30 s, the Generic Host's default shutdown timeout: the same patience a normal stop gets.
    /// </summary>
    public static readonly TimeSpan DisposeWait = TimeSpan.FromSeconds(30);
}
