using System.Linq;
using System.Reflection;
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.EventPipe;
using Microsoft.Diagnostics.Tracing.Parsers;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

namespace NoBlock.Diagnostics;

/// <summary>
/// Reads one stack-capture session as it streams (TraceEvent's <see cref="EventPipeEventSource"/>, no <c>TraceLog</c>)
/// and keeps only what the batch's stacks need: the first sample profiler samples of each requested thread inside its
/// stall, and, of the rundown that follows, the methods whose code those samples' addresses fall in (names, token,
/// module, IL-to-native map) — nothing for the tens of thousands of jitted methods no sample hit. The memory a capture
/// holds is bounded by the batch (threads × <see cref="MaxSamplesPerThread"/> × stack depth), not by the process's code.
/// </summary>
/// <remarks>
/// The result is what the TraceLog conversion gave (StallStackParserTests.A_streamed_session_gives_the_frames_TraceLog_gives
/// compares the two on one recorded session): an address resolves to the first rundown method whose range
/// [start, start + size) holds it, among the addresses seen before that method's event (the samples come before the
/// rundown, which the runtime sends when the session stops); the IL offset is TraceLog's (the jitted method's IL map,
/// interpolated, one back); the module path is TraceLog's (with its renaming of ReadyToRun and NGen images).
/// </remarks>
internal sealed class SessionStacks
{
    /// <summary>
    /// Samples kept per thread: the first in the stall window, in order. The first of them with a managed frame is the
    /// stack; a thread sampled in native code only that many times in a row gets "no sample". A session held open longer
    /// (a slow stop) samples the thread a thousand times a second: this is what keeps that from being kept.
    /// </summary>
    internal const int MaxSamplesPerThread = 32;

    /// <summary>The innermost frames kept per stack (the alert shows the user frames among them).</summary>
    private const int MaxFrames = 64;

    private readonly Dictionary<int, ThreadSamples> _threads;

    /// <summary>Addresses of the kept samples not yet resolved to a method, sorted when a method event looks them up.</summary>
    private readonly List<ulong> _unresolved = new();
    private bool _unresolvedSorted = true;

    /// <summary>Resolved addresses (a few hundred at most: the kept samples' frames).</summary>
    private readonly Dictionary<ulong, HitMethod> _resolved = new();

    /// <summary>Managed module id → module path, for every module of the rundown (hundreds, not thousands).</summary>
    private readonly Dictionary<long, string> _modulePaths = new();

    /// <summary>IL maps waiting for their method's event (the runtime sends a method's map just before it).</summary>
    private readonly Dictionary<long, OffsetMap> _pendingMaps = new();
    private readonly Stack<OffsetMap> _freeMaps = new();

    /// <summary>
    /// Maps kept waiting for their method at most: the runtime sends each jitted method's map right before its method
    /// event, so one waits at a time; this only bounds what a rundown sent in another order would leave behind.
    /// </summary>
    private const int MaxPendingMaps = 1024;

    public SessionStacks(IReadOnlyList<StackCaptureRequest> requests)
    {
        _threads = requests.ToDictionary(r => r.Tid, r => new ThreadSamples(r));
    }

    /// <summary>Sample and rundown events seen (tests: the stream was really read).</summary>
    internal long EventCount => _eventCount;

    private long _eventCount;

    /// <summary>Parses the session's stream to its end (the session stopped and the rundown sent) or until it fails.</summary>
    public void Read(Stream stream)
    {
        using var source = new EventPipeEventSource(stream);
        new SampleProfilerTraceEventParser(source).ThreadSample += OnSample;
        var rundown = new ClrRundownTraceEventParser(source);
        rundown.LoaderModuleDCStop += OnModule;
        rundown.LoaderModuleDCStart += OnModule;
        rundown.MethodILToNativeMapDCStop += OnILMap;
        rundown.MethodDCStopVerbose += OnMethod;
        source.Process();
    }

    /// <summary>Completes every request with its stack or why not; called once <see cref="Read"/> returned.</summary>
    public void Complete()
    {
        foreach (var thread in _threads.Values)
        {
            var request = thread.Request;
            foreach (var sample in thread.Samples)
            {
                var frames = Frames(sample);
                if (frames.Count > 0)
                {
                    request.Complete(frames, null);
                    break;
                }
            }
            if (!request.Done)
            {
                request.Complete(null, thread.StallEnded
                    ? "the stall ended before a sample of the loop thread was taken"
                    : "no sample of the loop thread in the session (the sampler did not reach it)");
            }
        }
    }

    /// <summary>Every kept sample's frames for <paramref name="tid"/>, in order (tests compare them with TraceLog's).</summary>
    internal List<List<StallStackFrame>> SampleFrames(int tid) => _threads[tid].Samples.Select(Frames).ToList();

    private void OnSample(TraceEvent e)
    {
        _eventCount++;
        if (!_threads.TryGetValue(e.ThreadID, out var thread) || thread.StallEnded || thread.Samples.Count >= MaxSamplesPerThread)
        {
            return;
        }
        var request = thread.Request;
        // EventPipe stamps events with CLOCK_MONOTONIC nanoseconds on Linux, the clock Stopwatch reads too.
#pragma warning disable CS0618 // "discouraged": the raw timestamp is what compares with the loop's Stopwatch stamps
        long at = e.TimeStampQPC;
#pragma warning restore CS0618
        if (at < request.StallStart)
        {
            return;
        }
        // Read as the sample streams in: a stall that has not ended yet ends after this sample.
        if (request.Activity.TryGetEndTimestamp(request.StallStart, out long ended) && at >= ended)
        {
            thread.StallEnded = true;
            return;
        }
        var stack = EventStacks.Addresses(e);
        thread.Samples.Add(stack);
        foreach (var ip in stack)
        {
            _unresolved.Add(ip);
        }
        _unresolvedSorted = false;
    }

    private void OnModule(ModuleLoadUnloadTraceData data)
    {
        _eventCount++;
        if (_modulePaths.ContainsKey(data.ModuleID))
        {
            return; // the first path a module is named with stays (TraceLog's)
        }
        string il = data.ModuleILPath, native = data.ModuleNativePath;
        // TraceLog's module file names: an NGen image logged as its own IL image loses its ".ni."; a ReadyToRun image
        // (logged as IL with a native PDB) is the native image, and its IL module is a made-up "<name>.il.dll".
        if (il == native)
        {
            int ni = il.LastIndexOf(".ni.", il.Length, Math.Min(8, il.Length), StringComparison.OrdinalIgnoreCase);
            if (ni >= 0)
            {
                il = il[..ni] + il[(ni + 3)..];
            }
        }
        else if (native.Length == 0 && data.NativePdbSignature != Guid.Empty && data.ManagedPdbSignature != Guid.Empty)
        {
            int dot = il.LastIndexOf('.');
            if (dot > 0)
            {
                il = il[..dot] + ".il" + il[dot..];
            }
        }
        _modulePaths.Add(data.ModuleID, il);
    }

    private void OnILMap(MethodILToNativeMapTraceData data)
    {
        _eventCount++;
        if (_unresolved.Count == 0)
        {
            return; // nothing left to resolve: no method's map is needed
        }
        var map = _freeMaps.Count > 0 ? _freeMaps.Pop() : new OffsetMap();
        map.Count = 0;
        int entries = data.CountOfMapEntries;
        if (map.Entries.Length < entries)
        {
            map.Entries = new OffsetMap.Entry[Math.Max(entries, map.Entries.Length * 2)];
        }
        for (int i = 0; i < entries; i++)
        {
            int il = data.ILOffset(i);
            if (il < 0)
            {
                continue; // the prolog and epilog markers: the best line comes from ignoring them (TraceLog does)
            }
            map.Entries[map.Count++] = new OffsetMap.Entry(il, data.NativeOffset(i));
        }
        if (_pendingMaps.Remove(data.MethodID, out var older))
        {
            _freeMaps.Push(older);
        }
        if (_pendingMaps.Count >= MaxPendingMaps)
        {
            _pendingMaps.Clear(); // maps whose method never came: a runtime that orders the rundown otherwise
        }
        _pendingMaps.Add(data.MethodID, map);
    }

    private void OnMethod(MethodLoadUnloadVerboseTraceData data)
    {
        _eventCount++;
        _pendingMaps.Remove(data.MethodID, out var map);
        try
        {
            if (_unresolved.Count == 0)
            {
                return;
            }
            if (!_unresolvedSorted)
            {
                _unresolved.Sort();
                _unresolvedSorted = true;
            }
            ulong start = data.MethodStartAddress, end = start + (ulong)data.MethodSize;
            int first = _unresolved.BinarySearch(start);
            if (first < 0)
            {
                first = ~first;
            }
            else
            {
                while (first > 0 && _unresolved[first - 1] == start)
                {
                    first--;
                }
            }
            int last = first;
            while (last < _unresolved.Count && _unresolved[last] < end)
            {
                last++;
            }
            if (last == first)
            {
                return;
            }
            var hit = new HitMethod(
                FullName(data), data.ModuleID, data.MethodToken, start, data.MethodSize,
                data.IsJitted && map is not null ? map.Sorted() : null);
            for (int i = first; i < last; i++)
            {
                _resolved.TryAdd(_unresolved[i], hit);
            }
            _unresolved.RemoveRange(first, last - first);
        }
        finally
        {
            if (map is not null)
            {
                _freeMaps.Push(map);
            }
        }
    }

    /// <summary>TraceLog's full method name: "Namespace.Type.Method(args)", the arguments from the signature's parentheses.</summary>
    private static string FullName(MethodLoadUnloadVerboseTraceData data)
    {
        string sig = data.MethodSignature;
        int parens = sig.IndexOf('(');
        return data.MethodNamespace + "." + data.MethodName + (parens >= 0 ? sig[parens..] : "");
    }

    private List<StallStackFrame> Frames(ulong[] stack)
    {
        var frames = new List<StallStackFrame>();
        bool leaf = true;
        for (int i = 0; i < stack.Length && frames.Count < MaxFrames; i++)
        {
            bool isLeaf = leaf;
            leaf = false;
            if (!_resolved.TryGetValue(stack[i], out var method))
            {
                continue; // native code, or a stub the rundown does not name
            }
            var (type, name) = StackCapture.Split(method.FullName);
            // TraceLog names a module it saw no rundown event for "ManagedModule".
            string modulePath = _modulePaths.TryGetValue(method.ModuleId, out var path) ? path : "ManagedModule";
            int il = method.ILOffset(stack[i]);
            // A caller's address is the return address, just past its call: the statement is the one before it.
            var (file, line) = PdbLines.Find(modulePath, method.Token, isLeaf || il <= 0 ? il : il - 1);
            frames.Add(new StallStackFrame(type, name, Path.GetFileName(modulePath), file, line, StackCapture.IsUserModule(modulePath)));
        }
        return frames;
    }

    private sealed class ThreadSamples(StackCaptureRequest request)
    {
        public StackCaptureRequest Request { get; } = request;

        /// <summary>The kept samples' stacks, innermost address first, in the order they were taken.</summary>
        public List<ulong[]> Samples { get; } = new();

        /// <summary>A sample after the stall's end was seen: later samples are not the stall's.</summary>
        public bool StallEnded { get; set; }
    }

    /// <summary>A method some kept sample's address fell in.</summary>
    private sealed class HitMethod(string fullName, long moduleId, int token, ulong start, int size, OffsetMap.Entry[]? map)
    {
        public string FullName { get; } = fullName;
        public long ModuleId { get; } = moduleId;
        public int Token { get; } = token;

        /// <summary>
        /// TraceLog's IL offset of a native address (ILToNativeMap.GetILOffsetForNativeAddress): the map entry at or
        /// before it (the last of equal native offsets), interpolated linearly toward the next entry when the IL offsets
        /// rise, then one back (a sampled address is the instruction that completed); -1 without a map.
        /// </summary>
        public int ILOffset(ulong address)
        {
            if (map is null || address < start || start + (uint)size < address)
            {
                return -1;
            }
            int native = (int)(address - start);
            int idx = -1;
            for (int lo = 0, hi = map.Length; lo < hi;)
            {
                int mid = (lo + hi) >>> 1;
                if (map[mid].Native <= native)
                {
                    idx = mid;
                    lo = mid + 1;
                }
                else
                {
                    hi = mid;
                }
            }
            if (idx < 0)
            {
                return -1;
            }
            int il = map[idx].IL;
            int nativeDelta = native - map[idx].Native;
            if (idx + 1 < map.Length && nativeDelta != 0)
            {
                int ilDeltaToNext = map[idx + 1].IL - map[idx].IL;
                if (ilDeltaToNext <= 0)
                {
                    return il;
                }
                int nativeDeltaToNext = map[idx + 1].Native - map[idx].Native;
                il += (int)(((double)nativeDelta) / nativeDeltaToNext * ilDeltaToNext + .5);
            }
            return il > 0 ? il - 1 : il;
        }
    }

    /// <summary>An IL map being filled from its event (reused: one is pending at a time in practice).</summary>
    private sealed class OffsetMap
    {
        public readonly record struct Entry(int IL, int Native);

        private static readonly IComparer<Entry> ByNative = Comparer<Entry>.Create((x, y) => x.Native - y.Native);

        public Entry[] Entries = new Entry[16];
        public int Count;

        /// <summary>A copy sorted by native offset, as TraceLog sorts it (the same sort on the same order: ties alike).</summary>
        public Entry[] Sorted()
        {
            var copy = Entries.AsSpan(0, Count).ToArray();
            Array.Sort(copy, 0, copy.Length, ByNative);
            return copy;
        }
    }
}

/// <summary>
/// The stack EventPipe recorded with an event. TraceEvent 3.1 parses it (the nettrace stack blocks) but gives it to
/// <c>TraceLog</c> only: <see cref="TraceEvent"/> has no public accessor. The event's record (the ETW
/// <c>EVENT_RECORD</c> layout TraceEvent fills for EventPipe events too) carries it as an extended data item of type
/// STACK_TRACE64; this reads that record through TraceEvent's internal <c>eventRecord</c> field, and checks the layout
/// against the public properties (timestamp, payload pointer) before trusting it.
/// </summary>
internal static unsafe class EventStacks
{
    private static readonly FieldInfo? RecordField = typeof(TraceEvent).GetField("eventRecord", BindingFlags.Instance | BindingFlags.NonPublic);

    // EVENT_RECORD (evntcons.h, mirrored by TraceEventNativeMethods): EVENT_HEADER (80 bytes: TimeStamp at 16),
    // ETW_BUFFER_CONTEXT (4), ExtendedDataCount (u16 at 84), UserDataLength (u16), ExtendedData (pointer at 88),
    // UserData (pointer at 96). EVENT_HEADER_EXTENDED_DATA_ITEM: Reserved1, ExtType, Reserved2, DataSize (u16 each),
    // DataPtr (u64): 16 bytes. A stack item's data is a u64 MatchId, then the addresses.
    private const int TimeStampOffset = 16, ExtendedDataCountOffset = 84, ExtendedDataOffset = 88, UserDataOffset = 96;
    private const int ItemSize = 16, ItemTypeOffset = 2, ItemSizeOffset = 6, ItemDataOffset = 8;
    private const ushort StackTrace32 = 0x0005, StackTrace64 = 0x0006;

    /// <summary>The event's stack, innermost address first; empty when it has none.</summary>
    public static ulong[] Addresses(TraceEvent e)
    {
        if (RecordField?.GetValue(e) is not { } boxed)
        {
            throw new InvalidOperationException("this TraceEvent version has no event record to read stacks from (TraceEvent.eventRecord)");
        }
        byte* record = (byte*)Pointer.Unbox(boxed);
#pragma warning disable CS0618 // the raw timestamp is the record's own field
        if (record is null || *(long*)(record + TimeStampOffset) != e.TimeStampQPC || *(IntPtr*)(record + UserDataOffset) != e.DataStart)
#pragma warning restore CS0618
        {
            throw new InvalidOperationException("TraceEvent's event record is not laid out as EVENT_RECORD (a TraceEvent version this was not checked with)");
        }
        int count = *(ushort*)(record + ExtendedDataCountOffset);
        byte* items = *(byte**)(record + ExtendedDataOffset);
        for (int i = 0; i < count && items is not null; i++)
        {
            byte* item = items + i * ItemSize;
            ushort type = *(ushort*)(item + ItemTypeOffset);
            if (type is not (StackTrace64 or StackTrace32))
            {
                continue;
            }
            int pointerSize = type == StackTrace64 ? 8 : 4;
            int size = *(ushort*)(item + ItemSizeOffset);
            byte* addresses = (byte*)*(ulong*)(item + ItemDataOffset) + sizeof(ulong);
            int n = Math.Max(0, (size - sizeof(ulong)) / pointerSize);
            var stack = new ulong[n];
            for (int k = 0; k < n; k++)
            {
                stack[k] = pointerSize == 8 ? ((ulong*)addresses)[k] : ((uint*)addresses)[k];
            }
            return stack;
        }
        return [];
    }
}
