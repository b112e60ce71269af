using System;
using Microsoft.CodeAnalysis;

namespace NoBlock.Analyzers.Platform;

/// <summary>
/// Recognises calls into libc by their native entry point, whatever declares them: Tmds.LibC
/// (<c>Tmds.Linux.LibC</c>), Mono.Posix (<c>Mono.Unix.Native.Syscall</c>, whose managed wrappers call a helper
/// library under other entry names), or the user's own <c>[DllImport]</c> / <c>[LibraryImport]</c> declarations.
/// </summary>
internal static class LibcFunctions
{
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
