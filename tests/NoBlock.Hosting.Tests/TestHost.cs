using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using NoBlock.Tcp;
using Xunit;

// Hosts set Environment.ExitCode on a loop fault and bind loopback sockets: one test at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace NoBlock.Hosting.Tests;

/// <summary>Real Generic Hosts for the tests: Host.CreateApplicationBuilder with in-memory configuration and FakeLogger.</summary>
internal static class TestHost
{
    /// <summary>Generous: tests wait for conditions, never assert how long something took.</summary>
    public static readonly TimeSpan Long = TimeSpan.FromSeconds(30);

    public static IHost Build(Action<HostApplicationBuilder> setup, IDictionary<string, string?>? configuration = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = [],
            EnvironmentName = "Test",
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration.AddInMemoryCollection(configuration ?? new Dictionary<string, string?>());
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.Logging.AddFakeLogging();
        setup(builder);
        return builder.Build();
    }

    public static FakeLogCollector Logs(this IHost host) => host.Services.GetFakeLogCollector();

    public static async Task<T> Within<T>(this Task<T> task, string what)
    {
        try
        {
            return await task.WaitAsync(Long);
        }
        catch (TimeoutException)
        {
            throw new Xunit.Sdk.XunitException($"Timed out waiting for: {what}");
        }
    }

    public static async Task Within(this Task task, string what)
    {
        try
        {
            await task.WaitAsync(Long);
        }
        catch (TimeoutException)
        {
            throw new Xunit.Sdk.XunitException($"Timed out waiting for: {what}");
        }
    }

    /// <summary>Runs a function on a loop and returns its result.</summary>
    public static Task<T> OnLoop<T>(this EventLoop loop, Func<T> func)
    {
        var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        loop.Post(() =>
        {
            try
            {
                tcs.SetResult(func());
            }
            catch (Exception ex)
            {
                tcs.SetException(ex);
            }
        });
        return tcs.Task;
    }

    public static Socket Connect(IPEndPoint endPoint)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = (int)Long.TotalMilliseconds };
        s.Connect(endPoint);
        return s;
    }

    public static byte[] Echo(Socket s, byte[] message)
    {
        s.Send(message);
        var reply = new byte[message.Length];
        int got = 0;
        while (got < reply.Length)
        {
            int n = s.Receive(reply, got, reply.Length - got, SocketFlags.None);
            Assert.True(n > 0, "the server closed the connection before echoing");
            got += n;
        }
        return reply;
    }

    /// <summary>True once the peer closed: a read returns 0 (EOF) or the connection is reset.</summary>
    public static bool SeesClose(Socket s)
    {
        try
        {
            return s.Receive(new byte[16]) == 0;
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
            return true;
        }
    }

    public static readonly IPEndPoint AnyLoopbackPort = new(IPAddress.Loopback, 0);
}

/// <summary>Echoes what it reads; records how it was closed.</summary>
internal sealed class EchoConnection : TcpConnection
{
    public static readonly List<CloseReason> Closes = [];

    protected override void OnData(ReadOnlySpan<byte> data) => Send(data);

    protected override void OnClosed(CloseReason reason)
    {
        lock (Closes)
        {
            Closes.Add(reason);
        }
    }
}
