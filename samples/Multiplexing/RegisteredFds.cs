using NoBlock.Samples.Multiplexing.Interop;

namespace NoBlock.Samples.Multiplexing;

/// <summary>
/// Owns the fds of one table row: <c>ceil(count / 2)</c> AF_UNIX socketpairs whose ends are all registered for
/// readability, so <c>count</c> registered fds cost <c>count</c> fds (rounded up to a pair) out of the 20,000 a
/// process may hold. <see cref="ReadyCount"/> of them, spread evenly over the range, get one byte written
/// into their peer once; nobody reads it, so they stay readable for every wait that follows. The other
/// registered fds have nothing to read (their peer never wrote, and neither end is closed, so no HUP either).
/// Disposing closes every fd this object opened.
/// </summary>
internal sealed class RegisteredFds : IDisposable
{
    /// <summary>The quoted figure: 100 of the registered fds are ready.</summary>
    public const int QuotedReadyCount = 100;

    // Pair p occupies [2p] and [2p + 1]; the peer of index i is i ^ 1.
    private readonly int[] _fds;
    private int _opened;
    private readonly bool[] _isReady;

    private RegisteredFds(int count, int readyCount)
    {
        _fds = new int[(count + 1) / 2 * 2];
        _isReady = new bool[count];
        Count = count;
        ReadyCount = readyCount;
    }

    /// <summary>How many fds are registered (the first <see cref="Count"/> opened ones).</summary>
    public int Count { get; }

    /// <summary>How many registered fds are readable: the quoted 100, or all of them when fewer are registered.</summary>
    public int ReadyCount { get; }

    /// <summary>The registered fds.</summary>
    public ReadOnlySpan<int> Fds => _fds.AsSpan(0, Count);

    /// <summary>The largest registered fd number (what <c>select</c> cares about).</summary>
    public int HighestFd { get; private set; } = -1;

    /// <summary>Whether the registered fd at <paramref name="index"/> (into <see cref="Fds"/>) was made ready.</summary>
    public bool IsReadyAt(int index) => _isReady[index];

    /// <summary>How many fds a row of <paramref name="count"/> registered fds opens (whole pairs).</summary>
    public static int FdsNeeded(int count) => (count + 1) / 2 * 2;

    /// <summary>
    /// Opens the socketpairs and makes <c>min(100, count)</c> fds ready. <paramref name="progress"/> is called
    /// with (opened, total) as the fds are opened. On failure or cancellation everything opened so far is closed.
    /// </summary>
    public static RegisteredFds Open(int count, Action<int, int>? progress, CancellationToken cancellation)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var set = new RegisteredFds(count, Math.Min(QuotedReadyCount, count));
        try
        {
            set.OpenPairs(progress, cancellation);
            set.MakeReady();
            return set;
        }
        catch
        {
            set.Dispose();
            throw;
        }
    }

    private void OpenPairs(Action<int, int>? progress, CancellationToken cancellation)
    {
        while (_opened < _fds.Length)
        {
            cancellation.ThrowIfCancellationRequested();
            (int first, int second) = Sys.SocketPair();
            _fds[_opened++] = first;
            _fds[_opened++] = second;
            progress?.Invoke(_opened, _fds.Length);
        }
        for (int i = 0; i < Count; i++)
        {
            HighestFd = Math.Max(HighestFd, _fds[i]);
        }
    }

    private void MakeReady()
    {
        // Spread the ready fds over the whole range rather than bunching them at the start, the way ready
        // connections are scattered among idle ones in a server. Index i * Count / ReadyCount is distinct for
        // every i because Count >= ReadyCount.
        for (int i = 0; i < ReadyCount; i++)
        {
            int index = (int)((long)i * Count / ReadyCount);
            _isReady[index] = true;
            Sys.WriteOneByte(_fds[index ^ 1]); // the byte lands in fds[index]'s receive queue
        }
    }

    /// <summary>Closes every fd opened. Throws after closing all of them if any close failed.</summary>
    public void Dispose()
    {
        int failures = 0;
        int firstErrno = 0;
        for (int i = 0; i < _opened; i++)
        {
            int errno = Sys.TryClose(_fds[i]);
            if (errno != 0)
            {
                failures++;
                firstErrno = firstErrno == 0 ? errno : firstErrno;
            }
        }
        _opened = 0;
        if (failures != 0)
        {
            throw new IOException($"closing the socketpairs: {failures} close() calls failed, the first with errno {firstErrno}");
        }
    }
}
