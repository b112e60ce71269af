namespace NoBlock.Bench.AnalyzerCost;

/// <summary>
/// A handler module: <c>XHandlers</c> (two <c>[EventLoopHandler]</c> methods, a lambda passed to
/// <c>EventLoop.Register</c>, one to <c>Post</c>, a method group passed to <c>Schedule</c>, an offloaded lambda as a
/// near-miss) and <c>XPipeline</c>/<c>XStore</c>, the helper chain six calls deep
/// (<c>Parse → Route → Lookup → Save → Commit → Flush</c>) with two cycles (<c>Decode → Decode</c>,
/// <c>Route → Normalize → Route</c>) and a call into the previous module.
/// </summary>
internal static class ModuleTemplate
{
    public static string Handlers(Module m)
    {
        string n = m.Name;
        string lower = n.ToLowerInvariant();
        bool edge = m.Edge != EdgeReads.None;
        string interest = edge ? "IoEvents.Readable | IoEvents.Writable | IoEvents.EdgeTriggered" : "IoEvents.Readable | IoEvents.Writable";
        string rawRead = m.Edge switch
        {
            EdgeReads.Drains => """
                            fixed (byte* start = _buffer)
                            {
                                long read;
                                while ((read = LibC.read(e.Fd, start, _buffer.Length)) > 0)
                                {
                                    _pipeline.Parse(_buffer, (int)read);
                                }

                                if (read < 0 && LibC.errno != LibC.EAGAIN)
                                {
                                    _errors++;
                                }
                            }

                """,
            EdgeReads.ReadsOnce => """
                            fixed (byte* start = _buffer)
                            {
                                long read = LibC.read(e.Fd, start, _buffer.Length);
                                if (read > 0)
                                {
                                    _pipeline.Parse(_buffer, (int)read);
                                }
                            }

                """,
            _ => string.Empty,
        };
        string direct = m.DirectBlocking
            ? """

                    // Crude pacing for a slow downstream: blocks every connection on the loop (NB0001).
                    Thread.Sleep(1);
            """
            : string.Empty;
        string console = m.ConsoleWrite
            ? $$"""

                    Console.WriteLine($"{{n}}: wrote {sent} replies on fd {e.Fd}");
            """
            : string.Empty;

        return $$"""
            using System;
            using System.Collections.Generic;
            using System.Globalization;
            using System.IO;
            using System.Linq;
            using System.Text;
            using System.Threading;
            using System.Threading.Tasks;
            using NoBlock;
            using Server.Common;
            {{(edge ? "using Tmds.Linux;\n" : string.Empty)}}
            namespace Server.{{n}};

            /// <summary>The event-loop side of {{n}}: reads requests from its connections and queues the replies.</summary>
            public sealed class {{n}}Handlers
            {
                private readonly {{n}}Pipeline _pipeline = new {{n}}Pipeline();
                private readonly byte[] _buffer = new byte[4096];
                private readonly Queue<string> _outbox = new Queue<string>();
                private readonly RingBuffer<int> _latencies = new RingBuffer<int>(64);
                private int _served;
                private int _errors;

                [EventLoopHandler]
                public void OnReadable(IoEvent e)
                {
                    if ((e.Events & IoEvents.Error) != 0)
                    {
                        _errors++;
                        return;
                    }

                    int length = Math.Min(_buffer.Length, 512 + (e.Fd % 7) * 64);
                    int result = _pipeline.Parse(_buffer, length);
                    _latencies.Add(result);
                    _outbox.Enqueue(Wire.Format(result, e.Fd));
                    ServerMetrics.Record("{{lower}}.read", length);{{direct}}
                }

                [EventLoopHandler]
                public void OnWritable(IoEvent e)
                {
                    int sent = 0;
                    while (_outbox.Count > 0 && sent < 16)
                    {
                        string line = _outbox.Dequeue();
                        byte[] bytes = Encoding.UTF8.GetBytes(line);
                        _served += Checksum.Of(bytes) & 1;
                        sent++;
                    }

                    using (var spill = new MemoryStream())
                    {
                        spill.Write(_buffer, 0, Math.Min(sent, _buffer.Length));
                        spill.Flush();
                    }{{console}}
                }

                public void OnTimer()
                {
                    List<string> stale = _pipeline.Snapshot()
                        .Where(pair => pair.Value > 10)
                        .OrderBy(pair => pair.Key, StringComparer.Ordinal)
                        .Select(pair => pair.Key)
                        .ToList();
                    stale.ForEach(key => _pipeline.Evict(key));
                    ServerMetrics.Record("{{lower}}.evicted", stale.Count);
                }

                public {{(edge ? "unsafe " : string.Empty)}}void Install(EventLoop loop, int fd)
                {
                    loop.Register(fd, {{interest}}, e =>
                    {
            {{rawRead}}            if ((e.Events & IoEvents.Readable) != 0)
                        {
                            OnReadable(e);
                        }

                        if ((e.Events & IoEvents.Writable) != 0)
                        {
                            OnWritable(e);
                        }
                    });
                    loop.Post(() => _pipeline.Warm(fd));
                    loop.Schedule(TimeSpan.FromSeconds(1), OnTimer);
                    loop.Offload(() => File.ReadAllText("config/{{lower}}.json").Length);
                }
            }

            """;
    }

    public static string Pipeline(Module m)
    {
        string n = m.Name;
        string lower = n.ToLowerInvariant();
        string flush = m.Leaf switch
        {
            BlockingLeaf.ThreadSleep => """
                        // Give the disk writer time to catch up.
                        Thread.Sleep(2);
                        return batch.Length ^ total;
                """,
            BlockingLeaf.FileReadAllText => $$"""
                        string previous = File.ReadAllText("state/{{lower}}.journal");
                        return previous.Length ^ batch.Length ^ total;
                """,
            BlockingLeaf.TaskResult => """
                        int acknowledged = _ack.Task.Result;
                        return acknowledged ^ batch.Length ^ total;
                """,
            _ => """
                        string joined = string.Join(";", batch);
                        return joined.Length ^ total;
                """,
        };

        return $$"""

            public sealed class {{n}}Request
            {
                public int Id { get; set; }
                public string Verb { get; set; } = "GET";
                public string Path { get; set; } = "/";
                public Dictionary<string, string> Headers { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            }

            /// <summary>{{n}}'s request pipeline: Parse, Route, Lookup, then the store's Save, Commit and Flush.</summary>
            public sealed class {{n}}Pipeline
            {
                private readonly Dictionary<string, int> _counts = new Dictionary<string, int>(StringComparer.Ordinal);
                private readonly {{n}}Store _store = new {{n}}Store();

                public int Parse(byte[] buffer, int length)
                {
                    string text = Encoding.UTF8.GetString(buffer, 0, Math.Min(length, buffer.Length));
                    {{n}}Request request = Decode(text, 3);
                    return Route(request);
                }

                public {{n}}Request Decode(string text, int depth)
                {
                    string[] lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
                    var request = new {{n}}Request { Id = lines.Length };
                    if (lines.Length > 0)
                    {
                        string[] start = lines[0].Split(' ');
                        request.Verb = start[0].Trim().ToUpperInvariant();
                        request.Path = start.Length > 1 ? start[1] : "/";
                    }

                    HeaderLines.Parse(lines.Skip(1), request.Headers);
                    if (depth > 0 && request.Headers.TryGetValue("Continue", out string rest))
                    {
                        HeaderLines.Parse(Decode(rest.Replace(';', '\n'), depth - 1).Headers.Select(pair => pair.Key + ":" + pair.Value), request.Headers);
                    }

                    return request;
                }

                public int Route({{n}}Request request)
                {
                    switch (request.Verb)
                    {
                        case "GET" or "HEAD":
                            return Lookup(request);
                        case "PUT" or "POST":
                            return Lookup(Normalize(request));
                        case "DELETE":
                            Evict(request.Path);
                            return 204;
                        default:
                            return Wire.Status(request.Verb) + Server.{{m.Previous}}.{{m.Previous}}Pipeline.Describe(request.Path).Length;
                    }
                }

                public {{n}}Request Normalize({{n}}Request request)
                {
                    request.Path = request.Path.TrimEnd('/').ToLowerInvariant();
                    if (request.Headers.Count > 8)
                    {
                        request.Headers.Remove(request.Headers.Keys.First());
                        Route(request);
                    }

                    return request;
                }

                public int Lookup({{n}}Request request)
                {
                    string key = request.Verb + " " + request.Path;
                    _counts.TryGetValue(key, out int seen);
                    _counts[key] = seen + 1;
                    int weight = request.Headers.Values.Sum(value => value.Length) + seen;
                    return _store.Save(key, weight);
                }

                public void Warm(int fd)
                {
                    var request = new {{n}}Request { Id = fd, Path = "/warm/" + fd.ToString(CultureInfo.InvariantCulture) };
                    Lookup(request);
                }

                public IReadOnlyDictionary<string, int> Snapshot() => _counts;

                public void Evict(string key) => _counts.Remove(key);

                public static string Describe(string path) => "{{n}}:" + path.Length.ToString(CultureInfo.InvariantCulture);
            }

            /// <summary>Keeps {{n}}'s values and journals changes in batches.</summary>
            public sealed class {{n}}Store
            {
                private readonly Dictionary<string, int> _values = new Dictionary<string, int>(StringComparer.Ordinal);
                private readonly List<string> _journal = new List<string>();
                private readonly TaskCompletionSource<int> _ack = new TaskCompletionSource<int>();

                public void Acknowledge(int sequence) => _ack.TrySetResult(sequence);

                public int Save(string key, int weight)
                {
                    _values[key] = weight;
                    _journal.Add(key + "=" + weight.ToString(CultureInfo.InvariantCulture));
                    if (_journal.Count > 128)
                    {
                        return Commit();
                    }

                    return weight;
                }

                public int Commit()
                {
                    string[] batch = _journal
                        .GroupBy(entry => entry.Substring(0, entry.IndexOf('=')))
                        .Select(group => group.Last())
                        .ToArray();
                    _journal.Clear();
                    int total = batch.Aggregate(0, (sum, entry) => sum + Hash.Combine(entry, sum));
                    return Flush(batch, total);
                }

                private int Flush(string[] batch, int total)
                {
            {{flush}}
                }
            }

            """;
    }
}
