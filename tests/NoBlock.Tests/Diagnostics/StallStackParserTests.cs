using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Diagnostics.Tracing.Etlx;
using NoBlock.Diagnostics;
using NoBlock.Interop;
using NoBlock.Tests.Runtime;
using Xunit;

namespace NoBlock.Tests.Diagnostics;

/// <summary>
/// The streaming parse of a capture session (SessionStacks) against TraceEvent's TraceLog, which NoBlock used before:
/// one real session of this process, recorded to a file while a thread of the test is stuck in known methods, then
/// read both ways. The frames must be the same, field for field.
/// </summary>
public sealed class StallStackParserTests
{
    private static volatile bool s_release;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void SleepOuter() => SleepInner();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void SleepInner()
    {
        while (!s_release)
        {
            Thread.Sleep(5);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static long SpinOuter() => SpinInner();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static long SpinInner()
    {
        long x = 0;
        while (!s_release)
        {
            x++;
        }
        return x;
    }

    [Theory, InlineData(true), InlineData(false)]
    public void A_streamed_session_gives_the_frames_TraceLog_gives(bool sleep)
    {
        string trace = Path.Combine(Path.GetTempPath(), $"noblock-parser-test-{Environment.ProcessId}-{Guid.NewGuid():N}.nettrace");
        s_release = false;
        int tid = 0;
        var started = new ManualResetEventSlim();
        var stuck = new Thread(() =>
        {
            tid = Sys.GetThreadId();
            started.Set();
            if (sleep)
            {
                SleepOuter();
            }
            else
            {
                SpinOuter();
            }
        }) { IsBackground = true, Name = "stuck" };
        long stallStart = Stopwatch.GetTimestamp();
        stuck.Start();
        try
        {
            Assert.True(started.Wait(Waits.Long));
            Thread.Sleep(50); // the thread in its stuck method before the session starts sampling
            string? failure;
            using (var file = File.Create(trace))
            {
                failure = StackCapture.Record(s => s.CopyTo(file), Waits.Long);
            }
            Assert.Null(failure);
        }
        finally
        {
            s_release = true;
            stuck.Join(Waits.Long);
        }
        try
        {
            var streamed = new StackCaptureRequest(tid, stallStart, new LoopActivity(), Waits.Long);
            var stacks = new SessionStacks([streamed]);
            using (var file = File.OpenRead(trace))
            {
                stacks.Read(file);
            }
            stacks.Complete();
            Assert.True(stacks.EventCount > 0);

            var expected = TraceLogFrames(trace, tid, stallStart);
            Assert.True(streamed.Frames is not null, streamed.Unavailable);
            Assert.NotEmpty(expected);
            string inner = sleep ? nameof(SleepInner) : nameof(SpinInner), outer = sleep ? nameof(SleepOuter) : nameof(SpinOuter);
            var names = streamed.Frames!.Select(f => f.MethodName).ToList();
            Assert.True(names.IndexOf(inner) >= 0 && names.IndexOf(outer) == names.IndexOf(inner) + 1, string.Join(" ← ", names));
            // The reported stack: TraceLog's first in-window sample with a managed frame.
            Assert.Equal(Describe(expected.First(f => f.Count > 0)), Describe(streamed.Frames!));
            // And every sample kept, frame for frame (the loop's spin and sleep land on different instructions).
            var kept = stacks.SampleFrames(tid);
            Assert.Equal(Math.Min(expected.Count, SessionStacks.MaxSamplesPerThread), kept.Count);
            for (int i = 0; i < kept.Count; i++)
            {
                Assert.Equal(Describe(expected[i]), Describe(kept[i]));
            }
        }
        finally
        {
            File.Delete(trace);
        }
    }

    private static List<string> Describe(IEnumerable<StallStackFrame> frames)
        => frames.Select(f => $"{f.TypeName} | {f.MethodName} | {f.Module} | {f.File} | {f.Line} | {f.IsUserCode}").ToList();

    /// <summary>
    /// What NoBlock's capture did before the streaming parse, for every in-window sample of the thread: its frames
    /// through TraceLog (the capture reported the first with a managed frame).
    /// </summary>
    private static List<List<StallStackFrame>> TraceLogFrames(string trace, int tid, long stallStart)
    {
        string etlx = TraceLog.CreateFromEventPipeDataFile(trace);
        try
        {
            using var log = new TraceLog(etlx);
            var samples = new List<List<StallStackFrame>>();
            foreach (var e in log.Events)
            {
#pragma warning disable CS0618 // the raw timestamp compares with Stopwatch stamps
                if (e.ProviderName != "Microsoft-DotNETCore-SampleProfiler" || e.ThreadID != tid || e.TimeStampQPC < stallStart)
#pragma warning restore CS0618
                {
                    continue;
                }
                var frames = new List<StallStackFrame>();
                bool leaf = true;
                for (var cs = e.CallStack(); cs is not null && frames.Count < 64; cs = cs.Caller)
                {
                    var address = cs.CodeAddress;
                    var method = address.Method;
                    bool isLeaf = leaf;
                    leaf = false;
                    if (method is null)
                    {
                        continue;
                    }
                    var (type, name) = StackCapture.Split(method.FullMethodName);
                    string modulePath = address.ModuleFile?.FilePath ?? "";
                    int il = address.ILOffset;
                    var (file, line) = PdbLines.Find(modulePath, method.MethodToken, isLeaf || il <= 0 ? il : il - 1);
                    frames.Add(new StallStackFrame(type, name, Path.GetFileName(modulePath), file, line, StackCapture.IsUserModule(modulePath)));
                }
                samples.Add(frames);
            }
            return samples;
        }
        finally
        {
            File.Delete(etlx);
        }
    }
}
