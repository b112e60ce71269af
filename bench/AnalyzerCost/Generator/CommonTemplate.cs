namespace NoBlock.Bench.AnalyzerCost;

/// <summary>
/// Shared utilities every module calls (wire format, checksums, hashing, metrics, a ring buffer, a small JSON
/// writer, configuration loading). Handlers reach them through their chains, so they are walked for NB0002 once
/// and shared by every chain. Configuration loading reads a file but is only called at start-up (a near-miss).
/// </summary>
internal static class CommonTemplate
{
    public static IEnumerable<(string Path, string Text)> Files()
    {
        yield return ("Common/Wire.cs", """
            using System;
            using System.Globalization;
            using System.Text;

            namespace Server.Common;

            /// <summary>The line protocol: one reply per line, "status fd".</summary>
            public static class Wire
            {
                public static string Format(int result, int fd)
                {
                    var builder = new StringBuilder(24);
                    builder.Append(result.ToString(CultureInfo.InvariantCulture));
                    builder.Append(' ');
                    builder.Append(fd.ToString(CultureInfo.InvariantCulture));
                    return builder.ToString();
                }

                public static int Status(string verb)
                {
                    if (string.IsNullOrEmpty(verb))
                    {
                        return 400;
                    }

                    return verb.Length switch
                    {
                        3 => 200,
                        4 => 201,
                        _ => 405,
                    };
                }

                public static string[] Fields(string line)
                {
                    return line.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries);
                }
            }

            """);

        yield return ("Common/HeaderLines.cs", """
            using System;
            using System.Collections.Generic;

            namespace Server.Common;

            /// <summary>"Name: value" header lines into a dictionary; later lines win.</summary>
            public static class HeaderLines
            {
                public static int Parse(IEnumerable<string> lines, IDictionary<string, string> headers)
                {
                    int count = 0;
                    foreach (string line in lines)
                    {
                        int colon = line.IndexOf(':');
                        if (colon <= 0)
                        {
                            continue;
                        }

                        headers[line.Substring(0, colon).Trim()] = line.Substring(colon + 1).Trim();
                        count++;
                    }

                    return count;
                }
            }

            """);

        yield return ("Common/Checksum.cs", """
            using System;

            namespace Server.Common;

            /// <summary>Fletcher-16 over a buffer: cheap integrity for replies.</summary>
            public static class Checksum
            {
                public static int Of(byte[] bytes)
                {
                    return Of(bytes, 0, bytes.Length);
                }

                public static int Of(byte[] bytes, int offset, int count)
                {
                    int sum1 = 0;
                    int sum2 = 0;
                    for (int i = offset; i < offset + count; i++)
                    {
                        sum1 = (sum1 + bytes[i]) % 255;
                        sum2 = (sum2 + sum1) % 255;
                    }

                    return (sum2 << 8) | sum1;
                }
            }

            """);

        yield return ("Common/Hash.cs", """
            using System;

            namespace Server.Common;

            /// <summary>FNV-1a, combined with a running value.</summary>
            public static class Hash
            {
                private const uint Offset = 2166136261;
                private const uint Prime = 16777619;

                public static int Combine(string text, int seed)
                {
                    uint hash = Offset ^ (uint)seed;
                    foreach (char c in text)
                    {
                        hash = (hash ^ c) * Prime;
                    }

                    return (int)hash;
                }
            }

            """);

        yield return ("Common/ServerMetrics.cs", """
            using System;
            using System.Collections.Generic;
            using System.Linq;

            namespace Server.Common;

            /// <summary>In-process counters, read by the admin endpoint.</summary>
            public static class ServerMetrics
            {
                private static readonly Dictionary<string, long> Totals = new Dictionary<string, long>(StringComparer.Ordinal);
                private static readonly object Gate = new object();

                public static void Record(string name, long value)
                {
                    lock (Gate)
                    {
                        Totals.TryGetValue(name, out long total);
                        Totals[name] = total + value;
                    }
                }

                public static IReadOnlyList<KeyValuePair<string, long>> Top(int count)
                {
                    lock (Gate)
                    {
                        return Totals.OrderByDescending(pair => pair.Value).Take(count).ToList();
                    }
                }
            }

            """);

        yield return ("Common/RingBuffer.cs", """
            using System;
            using System.Collections.Generic;

            namespace Server.Common;

            /// <summary>The last N values, oldest first.</summary>
            public sealed class RingBuffer<T>
            {
                private readonly T[] _items;
                private int _next;

                public RingBuffer(int capacity)
                {
                    _items = new T[capacity];
                }

                public int Count { get; private set; }

                public void Add(T item)
                {
                    _items[_next] = item;
                    _next = (_next + 1) % _items.Length;
                    Count = Math.Min(Count + 1, _items.Length);
                }

                public IEnumerable<T> Items()
                {
                    int start = Count == _items.Length ? _next : 0;
                    for (int i = 0; i < Count; i++)
                    {
                        yield return _items[(start + i) % _items.Length];
                    }
                }
            }

            """);

        yield return ("Common/JsonWriter.cs", """
            using System;
            using System.Collections.Generic;
            using System.Globalization;
            using System.Text;

            namespace Server.Common;

            /// <summary>A small JSON writer for admin replies (objects of strings and numbers).</summary>
            public sealed class JsonWriter
            {
                private readonly StringBuilder _builder = new StringBuilder();
                private bool _first = true;

                public JsonWriter Begin()
                {
                    _builder.Append('{');
                    _first = true;
                    return this;
                }

                public JsonWriter Property(string name, string value)
                {
                    Separator();
                    Quote(name);
                    _builder.Append(':');
                    Quote(value);
                    return this;
                }

                public JsonWriter Property(string name, long value)
                {
                    Separator();
                    Quote(name);
                    _builder.Append(':').Append(value.ToString(CultureInfo.InvariantCulture));
                    return this;
                }

                public string End()
                {
                    _builder.Append('}');
                    return _builder.ToString();
                }

                private void Separator()
                {
                    if (!_first)
                    {
                        _builder.Append(',');
                    }

                    _first = false;
                }

                private void Quote(string text)
                {
                    _builder.Append('"');
                    foreach (char c in text)
                    {
                        switch (c)
                        {
                            case '"':
                                _builder.Append("\\\"");
                                break;
                            case '\\':
                                _builder.Append("\\\\");
                                break;
                            case '\n':
                                _builder.Append("\\n");
                                break;
                            default:
                                _builder.Append(c);
                                break;
                        }
                    }

                    _builder.Append('"');
                }
            }

            """);

        yield return ("Common/ServerConfig.cs", """
            using System;
            using System.Collections.Generic;
            using System.Globalization;
            using System.IO;
            using System.Linq;

            namespace Server.Common;

            /// <summary>key=value settings, read once at start-up (before the loop runs).</summary>
            public sealed class ServerConfig
            {
                private readonly Dictionary<string, string> _values;

                private ServerConfig(Dictionary<string, string> values)
                {
                    _values = values;
                }

                public static ServerConfig Load(string path)
                {
                    var values = File.ReadAllLines(path)
                        .Select(line => line.Trim())
                        .Where(line => line.Length > 0 && !line.StartsWith("#", StringComparison.Ordinal))
                        .Select(line => line.Split('=', 2))
                        .Where(parts => parts.Length == 2)
                        .ToDictionary(parts => parts[0].Trim(), parts => parts[1].Trim(), StringComparer.OrdinalIgnoreCase);
                    return new ServerConfig(values);
                }

                public int GetInt(string key, int fallback)
                {
                    return _values.TryGetValue(key, out string text) && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value)
                        ? value
                        : fallback;
                }

                public string GetString(string key, string fallback)
                {
                    return _values.TryGetValue(key, out string text) ? text : fallback;
                }
            }

            """);
    }
}
