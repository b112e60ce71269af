using System;
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;

namespace NoBlock.Analyzers.Platform;

/// <summary>What a libc call is, to every rule: the one classification of entry points.</summary>
internal enum LibcCallKind
{
    None,

    /// <summary>read, recv, recvfrom, recvmsg, readv: NB0003.</summary>
    Read,

    /// <summary>accept, accept4: NB0004.</summary>
    Accept,

    /// <summary>
    /// epoll_wait, epoll_pwait, epoll_pwait2 (<see cref="LibcFunctions.EpollWaitNames"/>): the call a dispatch loop is
    /// built around, and going back to wait for the next edge.
    /// </summary>
    Wait,

    EpollCtl,
}

/// <summary>
/// Recognises calls into libc by their native entry point, whatever declares them: Tmds.LibC
/// (<c>Tmds.Linux.LibC</c>), Mono.Posix (<c>Mono.Unix.Native.Syscall</c>, whose managed wrappers call a helper
/// library under other entry names), or the user's own <c>[DllImport]</c> / <c>[LibraryImport]</c> declarations.
/// </summary>
internal static class LibcFunctions
{
    /// <summary>
    /// The epoll waits, the one definition every rule uses (NB0001's catalogue and nested-wait check, the dispatch
    /// loops, the syntax gate, NB0003/NB0004).
    /// </summary>
    public static readonly ImmutableArray<string> EpollWaitNames = ImmutableArray.Create("epoll_wait", "epoll_pwait", "epoll_pwait2");

    /// <summary>True for the native name of an epoll wait (<see cref="EpollWaitNames"/>).</summary>
    public static bool IsEpollWaitName(string? nativeName) => nativeName is not null && EpollWaitNames.Contains(nativeName);

    /// <summary>What a native entry point is (<see cref="GetNativeName"/>'s answer).</summary>
    public static LibcCallKind KindOf(string? nativeName) => nativeName switch
    {
        "read" or "recv" or "recvfrom" or "recvmsg" or "readv" => LibcCallKind.Read,
        "accept" or "accept4" => LibcCallKind.Accept,
        "epoll_ctl" => LibcCallKind.EpollCtl,
        _ when IsEpollWaitName(nativeName) => LibcCallKind.Wait,
        _ => LibcCallKind.None,
    };

    /// <summary>What a method is as a libc call (<see cref="LibcCallKind.None"/> for anything that is not one).</summary>
    public static LibcCallKind Classify(IMethodSymbol method) => KindOf(GetNativeName(method));

    /// <summary>
    /// The libc function a method stands for (<c>"read"</c>, <c>"epoll_wait"</c>, …), or null when the method is
    /// not a libc binding. The name comes from the entry point when the declaration names one, else from the
    /// method's own name.
    /// </summary>
    public static string? GetNativeName(IMethodSymbol method)
    {
        method = method.ReducedFrom ?? method;
        if (!method.IsStatic)
        {
            return null;
        }

        var dllImport = method.GetDllImportData();
        if (dllImport is not null)
        {
            return IsLibc(dllImport.ModuleName) ? Normalize(dllImport.EntryPointName ?? method.Name) : null;
        }

        foreach (var attribute in method.GetAttributes())
        {
            if (attribute.AttributeClass is { Name: "LibraryImportAttribute" } attributeClass
                && attributeClass.ContainingNamespace?.ToDisplayString() == "System.Runtime.InteropServices")
            {
                var library = attribute.ConstructorArguments.Length > 0 ? attribute.ConstructorArguments[0].Value as string : null;
                if (!IsLibc(library))
                {
                    return null;
                }

                foreach (var named in attribute.NamedArguments)
                {
                    if (named.Key == "EntryPoint" && named.Value.Value is string entryPoint)
                    {
                        return Normalize(entryPoint);
                    }
                }

                return Normalize(method.Name);
            }
        }

        // Bindings whose managed methods are the libc functions under the same names, but that do not (or not
        // always) show a DllImport in metadata: Tmds.LibC's LibC class, Mono.Posix's Syscall wrappers.
        var type = method.ContainingType?.ToDisplayString();
        if (type is "Tmds.Linux.LibC" or "Mono.Unix.Native.Syscall")
        {
            return Normalize(method.Name);
        }

        return null;
    }

    /// <summary>
    /// True for library names that resolve to the C library on Linux: "libc", "c", "libc.so.6", "libSystem.Native"
    /// is not libc. Unnamed modules (null) count, because a DllImport must name one, so null means LibraryImport
    /// with a computed name, which we cannot judge.
    /// </summary>
    private static bool IsLibc(string? library)
    {
        if (library is null)
        {
            return false;
        }

        var name = library;
        var slash = name.LastIndexOf('/');
        if (slash >= 0)
        {
            name = name.Substring(slash + 1);
        }

        return name.Equals("libc", StringComparison.Ordinal)
            || name.Equals("c", StringComparison.Ordinal)
            || name.StartsWith("libc.so", StringComparison.Ordinal)
            || name.Equals("libc.dylib", StringComparison.Ordinal);
    }

    // glibc exports some functions under versioned or underscore names (e.g. "__read_chk" is not the same
    // contract, but "read64"-style aliases do not exist on Linux); we only strip a leading underscore pair
    // that some bindings add to avoid C# keyword clashes ("_read").
    private static string Normalize(string name) => name.TrimStart('_');
}
