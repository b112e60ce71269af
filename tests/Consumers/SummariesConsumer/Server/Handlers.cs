using NoBlock;

namespace Consumer;

public sealed class Handlers
{
    [EventLoopHandler]
    public int OnReadable()
    {
        var text = Storage.Repo.Load("data.txt");   // NB0002: OnReadable → Repo.Load → Helper.Read → File.ReadAllText (Storage: Repo.cs:14)
        return Storage.Repo.Count(text);            // pure: silent
    }
}
