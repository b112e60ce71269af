using System.Net;

namespace HostedEcho;

/// <summary>Configuration section <c>Echo</c> (appsettings.json, environment <c>Echo__Port</c>, or the command line).</summary>
internal sealed class EchoOptions
{
    public const string Section = "Echo";

    /// <summary>Address to bind. Default 127.0.0.1.</summary>
    public string Address { get; set; } = "127.0.0.1";

    /// <summary>TCP port; 0 picks a free one (the log line says which).</summary>
    public int Port { get; set; } = 5000;

    /// <summary>Register sockets edge-triggered (EPOLLET).</summary>
    public bool EdgeTriggered { get; set; }

    /// <summary>
    /// A demonstration of the fault policies: a connection that sends this text makes its handler throw. Under
    /// <c>HandlerExceptionPolicy</c> CloseRegistration (the default) only that connection closes; under StopLoop the
    /// application stops with exit code 1. Null: off.
    /// </summary>
    public string? FaultOn { get; set; }

    public IPEndPoint EndPoint() => new(IPAddress.Parse(Address), Port);
}
