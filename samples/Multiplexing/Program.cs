using System.ComponentModel;
using System.Globalization;
using System.Runtime.InteropServices;
using NoBlock.Samples;
using NoBlock.Samples.Multiplexing;

// Exit codes, as the usage text documents them.
const int Measured = 0;
const int Failed = 1;
const int BadArguments = CommandLines.BadArguments;
const int Interrupted = 130; // 128 + SIGINT, what a shell reports for a process stopped by Ctrl+C

CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

Options? options = Options.Parse(args, out string? error);
if (options is null)
{
    Console.Error.WriteLine($"error: {error}");
    Console.Error.WriteLine("Try 'Multiplexing --help'.");
    return BadArguments;
}

FdBudget budget;
try
{
    budget = FdBudget.Take();
}
catch (Win32Exception e)
{
    Console.Error.WriteLine($"error: cannot read the fd limit: {e.Message}");
    return Failed;
}

if (options.Help)
{
    return Options.Command(budget.LargestCount).Parse(args).Invoke(); // System.CommandLine's help, with this process's fd budget
}
if (options.MaxFds > budget.LargestCount)
{
    Console.Error.WriteLine($"error: --max-fds {options.MaxFds:N0}: this process may register at most {budget.LargestCount:N0} fds " +
        $"(RLIMIT_NOFILE {budget.Limit:N0} - {budget.OpenAtStart} fds already open - {FdBudget.RuntimeHeadroom} headroom; an unprivileged process cannot raise the hard limit)");
    return BadArguments;
}

// Ctrl+C and SIGTERM cancel the run instead of killing the process, so the finally blocks close every fd.
// A second signal is not cancelled and ends the process the default way.
using var cancellation = new CancellationTokenSource();
void OnSignal(PosixSignalContext context)
{
    if (!cancellation.IsCancellationRequested)
    {
        context.Cancel = true;
        cancellation.Cancel();
    }
}
using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);

Progress progress = Progress.ForStandardError();
var limits = TimingLimits.Default with { MaxCalls = options.MaxCalls };
try
{
    var run = new ScalingRun(limits, progress, cancellation.Token);
    IReadOnlyList<TableRow> rows = run.MeasureRows(options.MaxFds ?? budget.LargestCount, largestIsRequested: options.MaxFds is not null);
    progress.Clear();
    ScalingTable.Write(Console.Out, rows, new RunContext(budget, limits, run.SelectCeilingRuntimeFds));
    return Measured;
}
catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
{
    progress.Clear();
    Console.Error.WriteLine("interrupted: every fd this run opened has been closed.");
    return Interrupted;
}
catch (WrongReadyCountException e)
{
    progress.Clear();
    Console.Error.WriteLine($"error: {e.Message}");
    Console.Error.WriteLine("A wrong ready count means the measurement is wrong, so no table is printed.");
    return Failed;
}
catch (Exception e) when (e is Win32Exception or IOException)
{
    progress.Clear();
    Console.Error.WriteLine($"error: {e.Message}");
    return Failed;
}
