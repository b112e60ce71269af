using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using NoBlock.Analyzers.Blocking;
using NoBlock.Analyzers.Tests.Verification;
using Xunit;

namespace NoBlock.Analyzers.Tests.Blocking;

/// <summary>
/// The catalogue checked against the reference assemblies the tests compile against: every public synchronous
/// method and constructor of the I/O types below (and every property getter of FileInfo, DirectoryInfo and
/// FileSystemInfo) is either catalogued or deliberately excluded here, with the reason. Property getters of
/// FileStream, Socket and Process read cached or kernel state (fstat, getsockopt, /proc) and are not checked.
/// </summary>
public sealed class CatalogueCoverageTests
{
    private static readonly string[] Types =
    {
        "System.IO.File", "System.IO.Directory", "System.IO.FileInfo", "System.IO.DirectoryInfo", "System.IO.FileSystemInfo",
        "System.IO.FileStream", "System.IO.RandomAccess", "System.Net.Dns", "System.Net.Sockets.Socket", "System.Diagnostics.Process",
    };

    /// <summary>"Type.Member" (every overload) → why it is not a blocking API.</summary>
    internal static readonly Dictionary<string, string> Excluded = new()
    {
        ["File.Exists"] = "an Exists probe: a decision written in NB0001.md (never throws, guards the real I/O, which is reported)",
        ["Directory.Exists"] = "an Exists probe (see File.Exists)",
        ["FileInfo.Exists"] = "an Exists probe (see File.Exists)",
        ["DirectoryInfo.Exists"] = "an Exists probe (see File.Exists)",
        ["FileSystemInfo.Exists"] = "an Exists probe (see File.Exists)",
        ["Directory.GetCurrentDirectory"] = "getcwd: process state, no path lookup on disk",
        ["Directory.GetDirectoryRoot"] = "string manipulation of the path",
        ["Directory.GetParent"] = "string manipulation: creates a DirectoryInfo without touching the disk",
        ["DirectoryInfo.ctor"] = "stores the path; the disk is read on first metadata access (catalogued)",
        ["DirectoryInfo.Name"] = "string manipulation of the path",
        ["DirectoryInfo.Parent"] = "string manipulation of the path",
        ["DirectoryInfo.Root"] = "string manipulation of the path",
        ["FileInfo.ctor"] = "stores the path; the disk is read on first metadata access (catalogued)",
        ["FileInfo.Directory"] = "string manipulation: creates a DirectoryInfo without touching the disk",
        ["FileInfo.DirectoryName"] = "string manipulation of the path",
        ["FileInfo.Name"] = "string manipulation of the path",
        ["FileSystemInfo.Extension"] = "string manipulation of the path",
        ["FileSystemInfo.FullName"] = "string manipulation of the path",
        ["FileSystemInfo.Name"] = "string manipulation of the path",
        ["FileSystemInfo.ToString"] = "returns the path",
        ["FileSystemInfo.GetObjectData"] = "serialization of the stored path",
        ["FileStream.Lock"] = "fcntl(F_SETLK): fails at once instead of waiting for the lock",
        ["FileStream.Unlock"] = "fcntl(F_SETLK) unlock: returns at once",
        ["FileStream.Seek"] = "lseek: moves the offset, no I/O",
        ["RandomAccess.GetLength"] = "fstat on an open handle: no path lookup, served from the inode",
        ["Dns.GetHostName"] = "uname: no network",
        ["Socket.ctor"] = "socket(2): returns at once",
        ["Socket.Bind"] = "bind(2): a local syscall that returns at once",
        ["Socket.Listen"] = "listen(2): returns at once",
        ["Socket.Close"] = "close(2) returns at once unless SO_LINGER is set with a timeout (not visible statically)",
        ["Socket.Dispose"] = "as Close",
        ["Socket.Shutdown"] = "shutdown(2): returns at once",
        ["Socket.DuplicateAndClose"] = "Windows-only handle duplication, no wait",
        ["Socket.GetSocketOption"] = "getsockopt: returns at once",
        ["Socket.SetSocketOption"] = "setsockopt: returns at once",
        ["Socket.GetRawSocketOption"] = "getsockopt: returns at once",
        ["Socket.SetRawSocketOption"] = "setsockopt: returns at once",
        ["Socket.SetIPProtectionLevel"] = "setsockopt: returns at once",
        ["Socket.IOControl"] = "ioctl: returns at once for the controls sockets use (FIONREAD, FIONBIO)",
        ["Process.ctor"] = "creates the object, starts nothing",
        ["Process.GetCurrentProcess"] = "the current process: no enumeration of /proc",
        ["Process.Kill"] = "sends a signal and returns",
        ["Process.Close"] = "releases the handle",
        ["Process.Refresh"] = "drops cached values; they are re-read lazily",
        ["Process.CancelErrorRead"] = "stops the asynchronous reader",
        ["Process.CancelOutputRead"] = "stops the asynchronous reader",
        ["Process.CloseMainWindow"] = "posts a close message to a GUI window (Windows) and returns",
        ["Process.EnterDebugMode"] = "Windows token privilege change, no wait",
        ["Process.LeaveDebugMode"] = "Windows token privilege change, no wait",
        ["Process.ToString"] = "formats the name",
    };

    /// <summary>Types whose property getters are checked too: their metadata is read from disk lazily.</summary>
    private static readonly string[] PropertiesChecked = { "System.IO.FileInfo", "System.IO.DirectoryInfo", "System.IO.FileSystemInfo" };

    [Fact]
    public void Every_public_synchronous_member_is_catalogued_or_excluded_with_a_reason()
    {
        var compilation = CSharpCompilation.Create("Coverage", references: TestReferences.All);
        var apis = new BlockingApis(compilation, System.Array.Empty<KeyValuePair<ISymbol, string?>>());
        var missing = new SortedSet<string>();
        foreach (var typeName in Types)
        {
            var type = compilation.GetTypeByMetadataName(typeName);
            Assert.True(type is not null, typeName + " is not in the reference assemblies");
            foreach (var member in type!.GetMembers())
            {
                if (member.DeclaredAccessibility != Accessibility.Public || member.IsImplicitlyDeclared || IsObsoleteError(member))
                {
                    continue;
                }

                var method = member switch
                {
                    IMethodSymbol { MethodKind: MethodKind.Ordinary or MethodKind.Constructor } m => m,
                    IPropertySymbol { GetMethod: { DeclaredAccessibility: Accessibility.Public } getter } when PropertiesChecked.Contains(typeName) => getter,
                    _ => null,
                };

                if (method is null || IsAsynchronous(method))
                {
                    continue;
                }

                var key = type.Name + "." + (member is IPropertySymbol ? member.Name : method.MethodKind == MethodKind.Constructor ? "ctor" : method.Name);
                if (Excluded.ContainsKey(key))
                {
                    continue;
                }

                if (!apis.Find(method).IsHit)
                {
                    missing.Add(key);
                }
            }
        }

        Assert.True(missing.Count == 0, "neither catalogued nor excluded: " + string.Join(", ", missing));
    }

    [Fact]
    public void Exclusions_name_members_that_exist_and_give_a_reason()
    {
        var compilation = CSharpCompilation.Create("Coverage", references: TestReferences.All);
        foreach (var (key, reason) in Excluded)
        {
            var dot = key.IndexOf('.');
            var type = Types.Select(compilation.GetTypeByMetadataName).Single(t => t!.Name == key[..dot]);
            var name = key[(dot + 1)..];
            Assert.True(type!.GetMembers(name == "ctor" ? ".ctor" : name).Length > 0, key + " does not exist");
            Assert.False(string.IsNullOrWhiteSpace(reason), key + " has no reason");
        }
    }

    /// <summary>Task-returning, async enumerables and APM (<c>Begin*</c>/<c>End*</c>): not synchronous calls.</summary>
    private static bool IsAsynchronous(IMethodSymbol method)
    {
        if (method.Name.EndsWith("Async", System.StringComparison.Ordinal) || method.Name.StartsWith("Begin", System.StringComparison.Ordinal) || method.Name.StartsWith("End", System.StringComparison.Ordinal) && method.Parameters.Any(p => p.Type.Name == "IAsyncResult"))
        {
            return true;
        }

        return method.ReturnType is INamedTypeSymbol { Name: "Task" or "ValueTask" or "IAsyncEnumerable" or "IAsyncResult" };
    }

    private static bool IsObsoleteError(ISymbol member)
        => member.GetAttributes().Any(a => a.AttributeClass?.Name == "ObsoleteAttribute" && a.ConstructorArguments.Length > 1 && a.ConstructorArguments[1].Value is true);
}
