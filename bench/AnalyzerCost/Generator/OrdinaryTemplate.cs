namespace NoBlock.Bench.AnalyzerCost;

/// <summary>
/// Ordinary server code that runs nowhere near the loop: record types and a CSV importer, LINQ reports, a text
/// template renderer, an LRU cache, validation rules. Some of it does file I/O and waits on tasks, as batch code
/// may: none of it is reachable from a handler, so it must cost the analyzer little and report nothing.
/// </summary>
internal static class OrdinaryTemplate
{
    private static readonly string[] Kinds = { "Importer", "Report", "Renderer", "Cache", "Rules" };

    public static string NameOf(int index) => Kinds[index % Kinds.Length] + (index / Kinds.Length).ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static string File(int index)
    {
        string name = NameOf(index);
        return (index % Kinds.Length) switch
        {
            0 => Importer(name),
            1 => Report(name),
            2 => Renderer(name),
            3 => Cache(name),
            _ => Rules(name),
        };
    }

    private static string Importer(string name) => $$"""
        using System;
        using System.Collections.Generic;
        using System.Globalization;
        using System.IO;
        using System.Linq;

        namespace Server.Domain;

        public sealed class {{name}}Row
        {
            public string Sku { get; set; } = string.Empty;

            public string Title { get; set; } = string.Empty;

            public decimal Price { get; set; }

            public int Quantity { get; set; }

            public DateTime Updated { get; set; }
        }

        /// <summary>Imports price lists from CSV exports (a nightly batch job, not loop code).</summary>
        public sealed class {{name}}
        {
            private readonly List<string> _problems = new List<string>();

            public IReadOnlyList<string> Problems => _problems;

            public List<{{name}}Row> ImportFile(string path)
            {
                return Import(File.ReadAllLines(path));
            }

            public List<{{name}}Row> Import(IEnumerable<string> lines)
            {
                var rows = new List<{{name}}Row>();
                int number = 0;
                foreach (string line in lines)
                {
                    number++;
                    if (number == 1 || string.IsNullOrWhiteSpace(line))
                    {
                        continue;
                    }

                    string[] fields = SplitCsv(line);
                    if (fields.Length < 5)
                    {
                        _problems.Add($"line {number}: expected 5 fields, found {fields.Length}");
                        continue;
                    }

                    if (!decimal.TryParse(fields[2], NumberStyles.Number, CultureInfo.InvariantCulture, out decimal price)
                        || !int.TryParse(fields[3], NumberStyles.Integer, CultureInfo.InvariantCulture, out int quantity)
                        || !DateTime.TryParse(fields[4], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTime updated))
                    {
                        _problems.Add($"line {number}: unreadable number or date");
                        continue;
                    }

                    rows.Add(new {{name}}Row { Sku = fields[0], Title = fields[1], Price = price, Quantity = quantity, Updated = updated });
                }

                return rows.GroupBy(row => row.Sku).Select(group => group.OrderByDescending(row => row.Updated).First()).ToList();
            }

            private static string[] SplitCsv(string line)
            {
                var fields = new List<string>();
                var current = new System.Text.StringBuilder();
                bool quoted = false;
                for (int i = 0; i < line.Length; i++)
                {
                    char c = line[i];
                    if (c == '"')
                    {
                        if (quoted && i + 1 < line.Length && line[i + 1] == '"')
                        {
                            current.Append('"');
                            i++;
                        }
                        else
                        {
                            quoted = !quoted;
                        }
                    }
                    else if (c == ',' && !quoted)
                    {
                        fields.Add(current.ToString());
                        current.Clear();
                    }
                    else
                    {
                        current.Append(c);
                    }
                }

                fields.Add(current.ToString());
                return fields.ToArray();
            }
        }

        """;

    private static string Report(string name) => $$"""
        using System;
        using System.Collections.Generic;
        using System.Globalization;
        using System.Linq;
        using System.Text;
        using System.Threading.Tasks;

        namespace Server.Domain;

        public sealed record {{name}}Sale(string Region, string Product, decimal Amount, DateTime At);

        /// <summary>Monthly sales figures for the back office.</summary>
        public sealed class {{name}}
        {
            private readonly List<{{name}}Sale> _sales = new List<{{name}}Sale>();

            public void Add({{name}}Sale sale) => _sales.Add(sale);

            public IEnumerable<(string Region, decimal Total)> ByRegion()
            {
                return _sales
                    .GroupBy(sale => sale.Region, StringComparer.OrdinalIgnoreCase)
                    .Select(group => (group.Key, group.Sum(sale => sale.Amount)))
                    .OrderByDescending(pair => pair.Item2);
            }

            public IReadOnlyList<string> TopProducts(int count, DateTime from, DateTime to)
            {
                return _sales
                    .Where(sale => sale.At >= from && sale.At < to)
                    .GroupBy(sale => sale.Product)
                    .OrderByDescending(group => group.Sum(sale => sale.Amount))
                    .ThenBy(group => group.Key, StringComparer.Ordinal)
                    .Take(count)
                    .Select(group => group.Key)
                    .ToList();
            }

            public Dictionary<int, decimal> MonthlyTotals(int year)
            {
                return _sales
                    .Where(sale => sale.At.Year == year)
                    .GroupBy(sale => sale.At.Month)
                    .ToDictionary(group => group.Key, group => group.Sum(sale => sale.Amount));
            }

            public string Render(int year)
            {
                var builder = new StringBuilder();
                builder.AppendLine("Region;Total");
                foreach ((string region, decimal total) in ByRegion())
                {
                    builder.Append(region).Append(';').AppendLine(total.ToString("F2", CultureInfo.InvariantCulture));
                }

                builder.AppendLine("Month;Total");
                foreach (KeyValuePair<int, decimal> month in MonthlyTotals(year).OrderBy(pair => pair.Key))
                {
                    builder.Append(month.Key).Append(';').AppendLine(month.Value.ToString("F2", CultureInfo.InvariantCulture));
                }

                return builder.ToString();
            }

            public string RenderAll(IEnumerable<int> years)
            {
                // Batch export on a worker: waiting here is fine, it is not loop code.
                Task<string>[] parts = years.Select(year => Task.Run(() => Render(year))).ToArray();
                Task.WaitAll(parts);
                return string.Join(Environment.NewLine, parts.Select(part => part.Result));
            }

            public decimal Median()
            {
                decimal[] amounts = _sales.Select(sale => sale.Amount).OrderBy(amount => amount).ToArray();
                if (amounts.Length == 0)
                {
                    return 0;
                }

                int middle = amounts.Length / 2;
                return amounts.Length % 2 == 1 ? amounts[middle] : (amounts[middle - 1] + amounts[middle]) / 2;
            }
        }

        """;

    private static string Renderer(string name) => $$"""
        using System;
        using System.Collections.Generic;
        using System.Text;

        namespace Server.Domain;

        /// <summary>Renders "Hello {name}"-style templates for e-mails and admin pages.</summary>
        public sealed class {{name}}
        {
            private readonly Dictionary<string, Func<string, string>> _filters = new Dictionary<string, Func<string, string>>(StringComparer.Ordinal)
            {
                ["upper"] = text => text.ToUpperInvariant(),
                ["lower"] = text => text.ToLowerInvariant(),
                ["trim"] = text => text.Trim(),
                ["html"] = Escape,
            };

            public string Render(string template, IReadOnlyDictionary<string, string> values)
            {
                var output = new StringBuilder(template.Length + 32);
                int position = 0;
                while (position < template.Length)
                {
                    int open = template.IndexOf('{', position);
                    if (open < 0)
                    {
                        output.Append(template, position, template.Length - position);
                        break;
                    }

                    output.Append(template, position, open - position);
                    int close = template.IndexOf('}', open + 1);
                    if (close < 0)
                    {
                        output.Append(template, open, template.Length - open);
                        break;
                    }

                    output.Append(Expand(template.Substring(open + 1, close - open - 1), values));
                    position = close + 1;
                }

                return output.ToString();
            }

            private string Expand(string expression, IReadOnlyDictionary<string, string> values)
            {
                string[] parts = expression.Split('|');
                string value = values.TryGetValue(parts[0].Trim(), out string found) ? found : string.Empty;
                for (int i = 1; i < parts.Length; i++)
                {
                    if (_filters.TryGetValue(parts[i].Trim(), out Func<string, string> filter))
                    {
                        value = filter(value);
                    }
                }

                return value;
            }

            private static string Escape(string text)
            {
                var builder = new StringBuilder(text.Length);
                foreach (char c in text)
                {
                    builder.Append(c switch
                    {
                        '<' => "&lt;",
                        '>' => "&gt;",
                        '&' => "&amp;",
                        '"' => "&quot;",
                        _ => c.ToString(),
                    });
                }

                return builder.ToString();
            }
        }

        """;

    private static string Cache(string name) => $$"""
        using System;
        using System.Collections.Generic;

        namespace Server.Domain;

        /// <summary>A least-recently-used cache with a fixed capacity.</summary>
        public sealed class {{name}}<TKey, TValue>
            where TKey : notnull
        {
            private readonly int _capacity;
            private readonly Dictionary<TKey, LinkedListNode<(TKey Key, TValue Value)>> _index;
            private readonly LinkedList<(TKey Key, TValue Value)> _order = new LinkedList<(TKey Key, TValue Value)>();

            public {{name}}(int capacity, IEqualityComparer<TKey> comparer = null)
            {
                if (capacity <= 0)
                {
                    throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "The capacity must be positive.");
                }

                _capacity = capacity;
                _index = new Dictionary<TKey, LinkedListNode<(TKey Key, TValue Value)>>(capacity, comparer);
            }

            public int Count => _index.Count;

            public long Hits { get; private set; }

            public long Misses { get; private set; }

            public bool TryGet(TKey key, out TValue value)
            {
                if (_index.TryGetValue(key, out var node))
                {
                    _order.Remove(node);
                    _order.AddFirst(node);
                    Hits++;
                    value = node.Value.Value;
                    return true;
                }

                Misses++;
                value = default;
                return false;
            }

            public void Set(TKey key, TValue value)
            {
                if (_index.TryGetValue(key, out var existing))
                {
                    _order.Remove(existing);
                }
                else if (_index.Count == _capacity)
                {
                    var last = _order.Last;
                    _order.RemoveLast();
                    _index.Remove(last.Value.Key);
                }

                var node = new LinkedListNode<(TKey Key, TValue Value)>((key, value));
                _order.AddFirst(node);
                _index[key] = node;
            }

            public TValue GetOrAdd(TKey key, Func<TKey, TValue> factory)
            {
                if (TryGet(key, out TValue value))
                {
                    return value;
                }

                value = factory(key);
                Set(key, value);
                return value;
            }

            public double HitRate => Hits + Misses == 0 ? 0 : (double)Hits / (Hits + Misses);
        }

        """;

    private static string Rules(string name) => $$"""
        using System;
        using System.Collections.Generic;
        using System.Linq;
        using System.Text.RegularExpressions;

        namespace Server.Domain;

        public sealed class {{name}}Customer
        {
            public string Email { get; set; } = string.Empty;

            public string Name { get; set; } = string.Empty;

            public string Country { get; set; } = string.Empty;

            public int Age { get; set; }

            public List<string> Tags { get; } = new List<string>();
        }

        /// <summary>Validation rules for customer records, applied when an account is edited.</summary>
        public sealed class {{name}}
        {
            private static readonly Regex EmailShape = new Regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", RegexOptions.CultureInvariant);
            private static readonly HashSet<string> Countries = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "DE", "FR", "NL", "US", "JP", "BR" };
            private readonly List<(string Field, Func<{{name}}Customer, bool> Check, string Message)> _rules;

            public {{name}}()
            {
                _rules = new List<(string, Func<{{name}}Customer, bool>, string)>
                {
                    ("Email", c => EmailShape.IsMatch(c.Email), "is not an e-mail address"),
                    ("Name", c => c.Name.Trim().Length is > 1 and < 80, "must be 2 to 79 characters"),
                    ("Country", c => Countries.Contains(c.Country), "is not a country we ship to"),
                    ("Age", c => c.Age is >= 16 and < 130, "must be 16 or more"),
                    ("Tags", c => c.Tags.Distinct(StringComparer.OrdinalIgnoreCase).Count() == c.Tags.Count, "has duplicates"),
                };
            }

            public IReadOnlyList<string> Validate({{name}}Customer customer)
            {
                return _rules
                    .Where(rule => !rule.Check(customer))
                    .Select(rule => $"{rule.Field} {rule.Message}")
                    .ToList();
            }

            public Dictionary<string, int> FailureCounts(IEnumerable<{{name}}Customer> customers)
            {
                var counts = new Dictionary<string, int>(StringComparer.Ordinal);
                foreach ({{name}}Customer customer in customers)
                {
                    foreach (var rule in _rules.Where(rule => !rule.Check(customer)))
                    {
                        counts.TryGetValue(rule.Field, out int count);
                        counts[rule.Field] = count + 1;
                    }
                }

                return counts;
            }

            public string Normalize(string email)
            {
                string trimmed = email.Trim();
                int at = trimmed.LastIndexOf('@');
                return at < 0 ? trimmed.ToLowerInvariant() : trimmed.Substring(0, at) + trimmed.Substring(at).ToLowerInvariant();
            }
        }

        """;
}
