namespace NoBlock.Samples.Multiplexing;

/// <summary>
/// The progress line on stderr while fds are set up: rewritten in place with \r on a terminal, and on a pipe
/// or file one plain line per finished step (a log has no use for a hundred \r-separated updates).
/// </summary>
internal sealed class Progress(TextWriter writer, bool isTerminal)
{
    /// <summary>A terminal redraw at most this often: fast enough to look alive, rare enough to cost nothing.</summary>
    private static readonly TimeSpan RedrawInterval = TimeSpan.FromMilliseconds(100);

    private long _lastDraw;
    private int _lastWidth;

    public static Progress ForStandardError() => new(Console.Error, !Console.IsErrorRedirected);

    /// <summary>Reports <paramref name="done"/> of <paramref name="total"/> for the step <paramref name="what"/>.</summary>
    public void Update(string what, int done, int total)
    {
        bool finished = done >= total;
        if (!isTerminal)
        {
            if (finished)
            {
                writer.WriteLine($"{what}: {total:N0} done");
            }
            return;
        }
        long now = Environment.TickCount64;
        if (!finished && now - _lastDraw < RedrawInterval.TotalMilliseconds)
        {
            return;
        }
        _lastDraw = now;
        Draw($"{what}: {done:N0}/{total:N0}");
    }

    /// <summary>A one-off status ("measuring poll over 10,000 fds").</summary>
    public void Status(string text)
    {
        if (isTerminal)
        {
            Draw(text);
        }
        else
        {
            writer.WriteLine(text);
        }
    }

    /// <summary>Erases the line on a terminal so the table that follows starts clean.</summary>
    public void Clear()
    {
        if (isTerminal && _lastWidth > 0)
        {
            writer.Write("\r" + new string(' ', _lastWidth) + "\r");
            writer.Flush();
            _lastWidth = 0;
        }
    }

    private void Draw(string text)
    {
        // Pad over the previous, possibly longer, text.
        writer.Write("\r" + text.PadRight(_lastWidth));
        writer.Flush();
        _lastWidth = text.Length;
    }
}
