using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

// An echo server on System.Net.Sockets async APIs (Memory<byte>/ValueTask overloads: the allocation-light way),
// one task per connection: the idiomatic alternative to NoBlock's EventLoop.
// usage: SocketsEcho PORT
if (args.Length != 1 || !int.TryParse(args[0], out int port))
{
    Console.Error.WriteLine("usage: SocketsEcho PORT");
    return 2;
}
using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
listener.Listen(4096);
using var cts = new CancellationTokenSource();
using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; cts.Cancel(); });
using var intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => { ctx.Cancel = true; cts.Cancel(); });
Console.WriteLine($"SocketsEcho listening on {listener.LocalEndPoint}");

_ = Task.Run(async () =>
{
    while (!cts.IsCancellationRequested)
    {
        Socket s;
        try
        {
            s = await listener.AcceptAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        s.NoDelay = true;
        _ = Serve(s);
    }
});

try
{
    await Task.Delay(Timeout.Infinite, cts.Token);
}
catch (OperationCanceledException)
{
}
return 0;

static async Task Serve(Socket s)
{
    var buffer = new byte[4096];
    try
    {
        while (true)
        {
            int n = await s.ReceiveAsync(buffer.AsMemory(), SocketFlags.None);
            if (n == 0)
            {
                break;
            }
            await s.SendAsync(buffer.AsMemory(0, n), SocketFlags.None);
        }
    }
    catch (SocketException)
    {
    }
    finally
    {
        s.Dispose();
    }
}
