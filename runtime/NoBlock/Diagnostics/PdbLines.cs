using System.Collections.Concurrent;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace NoBlock.Diagnostics;

/// <summary>
/// Method token + IL offset → source file and line, from the module's portable PDB (embedded, or the file the PE's
/// CodeView entry names, or the .pdb beside the module). Windows PDBs and modules without a PDB give no line.
/// Readers are cached per module for the process's life (a handful of user assemblies).
/// </summary>
internal static class PdbLines
{
    private static readonly ConcurrentDictionary<string, MetadataReaderProvider?> Readers = new(StringComparer.Ordinal);

    public static (string? File, int? Line) Find(string modulePath, int methodToken, int ilOffset)
    {
        if (string.IsNullOrEmpty(modulePath) || ilOffset < 0 || (methodToken >> 24) != 0x06)
        {
            return (null, null);
        }
        var provider = Readers.GetOrAdd(modulePath, Open);
        if (provider is null)
        {
            return (null, null);
        }
        try
        {
            var reader = provider.GetMetadataReader();
            var handle = MetadataTokens.MethodDefinitionHandle(methodToken & 0xFFFFFF);
            var info = reader.GetMethodDebugInformation(handle);
            SequencePoint? best = null;
            foreach (var sp in info.GetSequencePoints())
            {
                if (sp.IsHidden)
                {
                    continue;
                }
                if (sp.Offset > ilOffset)
                {
                    break;
                }
                best = sp;
            }
            if (best is not { } b)
            {
                return (null, null);
            }
            return (reader.GetString(reader.GetDocument(b.Document).Name), b.StartLine);
        }
        catch (Exception)
        {
            return (null, null); // a damaged or mismatched PDB: no line rather than no report
        }
    }

    private static MetadataReaderProvider? Open(string modulePath)
    {
        try
        {
            if (!File.Exists(modulePath))
            {
                return null;
            }
            using var pe = new PEReader(File.OpenRead(modulePath));
            foreach (var entry in pe.ReadDebugDirectory())
            {
                if (entry.Type == DebugDirectoryEntryType.EmbeddedPortablePdb)
                {
                    return pe.ReadEmbeddedPortablePdbDebugDirectoryData(entry);
                }
            }
            if (pe.TryOpenAssociatedPortablePdb(modulePath, path => File.Exists(path) ? File.OpenRead(path) : null, out var provider, out _))
            {
                return provider;
            }
        }
        catch (Exception)
        {
            // not a PE, or a Windows PDB: no lines for this module
        }
        return null;
    }
}
