namespace NoBlock.Hosting;

/// <summary>
/// Settings for a hosted <see cref="Tcp.EventLoopGroup"/> (<c>services.AddEventLoopGroup(name, configure)</c>): how
/// many loops, and the settings every loop gets. Bound from configuration section <c>NoBlock:Loops:&lt;name&gt;</c>
/// like a single loop's: <c>LoopCount</c> beside the loop settings (<c>StallThreshold</c>, …).
/// </summary>
public sealed class EventLoopGroupOptions
{
    /// <summary>How many loops, one thread each. 0 (the default): one per core (<see cref="Environment.ProcessorCount"/>).</summary>
    public int LoopCount { get; set; }

    /// <summary>
    /// Settings every loop of the group gets; each loop is named <c>&lt;name&gt;-&lt;index&gt;</c>
    /// (<see cref="EventLoopOptions.Name"/> is the group's name, the prefix).
    /// </summary>
    public EventLoopOptions Loop { get; set; } = new();
}
