using Microsoft.Extensions.Options;

namespace NoBlock.Hosting.Configuration;

/// <summary>
/// Checks a hosted loop's (or group's) settings, whether they came from configuration or the configure callback,
/// before the host starts: each problem names the setting, its configuration key and the value.
/// </summary>
internal sealed class LoopOptionsValidator(string name) : IValidateOptions<EventLoopOptions>, IValidateOptions<EventLoopGroupOptions>
{
    /// <summary>Most loops in a group. 1024, as EchoServer's --loops: a loop is a thread and an epoll instance; past a few per core they only contend.</summary>
    public const int MaxLoopCount = 1024;

    public ValidateOptionsResult Validate(string? optionsName, EventLoopOptions options)
    {
        if (optionsName != name)
        {
            return ValidateOptionsResult.Skip;
        }
        var problems = new List<string>();
        Check(options, problems);
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }

    public ValidateOptionsResult Validate(string? optionsName, EventLoopGroupOptions options)
    {
        if (optionsName != name)
        {
            return ValidateOptionsResult.Skip;
        }
        var problems = new List<string>();
        if (options.LoopCount is < 0 or > MaxLoopCount)
        {
            problems.Add($"{Key(nameof(EventLoopGroupOptions.LoopCount))} = {options.LoopCount}: use 1 to {MaxLoopCount} loops, or 0 for one per core.");
        }
        if (options.Loop is null)
        {
            problems.Add($"EventLoopGroupOptions.Loop of group '{name}' is null: leave the default or assign settings.");
        }
        else
        {
            Check(options.Loop, problems);
        }
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }

    private void Check(EventLoopOptions o, List<string> problems)
    {
        if (string.IsNullOrWhiteSpace(o.Name))
        {
            problems.Add($"EventLoopOptions.Name of '{name}' is empty: a loop's name is in its logs, metrics and thread name.");
        }
        if (o.StallThreshold <= TimeSpan.Zero && o.StallThreshold != Timeout.InfiniteTimeSpan)
        {
            problems.Add($"{Key(nameof(o.StallThreshold))} = {o.StallThreshold}: the stall threshold must be positive (e.g. 00:00:00.100); to turn the watchdog off set Watchdog:Enabled to false.");
        }
        if (!Enum.IsDefined(o.HandlerExceptionPolicy))
        {
            problems.Add($"{Key(nameof(o.HandlerExceptionPolicy))} = {(int)o.HandlerExceptionPolicy}: use {string.Join(" or ", Enum.GetNames<HandlerExceptionPolicy>())}.");
        }
        if (o.MaxEventsPerPoll <= 0)
        {
            problems.Add($"{Key(nameof(o.MaxEventsPerPoll))} = {o.MaxEventsPerPoll}: must be positive (default 256).");
        }
        if (o.MaxPostedPerTurn <= 0)
        {
            problems.Add($"{Key(nameof(o.MaxPostedPerTurn))} = {o.MaxPostedPerTurn}: must be positive (default 1024).");
        }
        if (o.Watchdog is null || o.Guards is null)
        {
            problems.Add($"EventLoopOptions.Watchdog and .Guards of '{name}' must not be null: leave the defaults or assign settings.");
            return;
        }
        if (o.Watchdog.MaxReportsPerMinute < 0)
        {
            problems.Add($"{Key("Watchdog:MaxReportsPerMinute")} = {o.Watchdog.MaxReportsPerMinute}: must be 0 (count only) or more.");
        }
        if (o.Watchdog.RateLimitWindow <= TimeSpan.Zero)
        {
            problems.Add($"{Key("Watchdog:RateLimitWindow")} = {o.Watchdog.RateLimitWindow}: must be positive (default 00:01:00).");
        }
        if (o.Guards.MaxReportsPerMinute < 0)
        {
            problems.Add($"{Key("Guards:MaxReportsPerMinute")} = {o.Guards.MaxReportsPerMinute}: must be 0 (count only) or more.");
        }
    }

    private string Key(string setting) => $"{LoopSection.PathOf(name)}:{setting}";
}
