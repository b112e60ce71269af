using Microsoft.CodeAnalysis.Testing;
using Xunit;
using NoBlock.Analyzers.Rules;
using Verify = NoBlock.Analyzers.Tests.Verification.AnalyzerVerifier<NoBlock.Analyzers.Rules.BlockingCallInHandlerAnalyzer>;

namespace NoBlock.Analyzers.Tests.Blocking;

/// <summary>
/// Socket I/O (<c>Send</c>, <c>Receive</c>, <c>Accept</c>, <c>Connect</c>, <c>Disconnect</c>, …) blocks only on a
/// blocking socket. A field, property or local that the code sets <c>Blocking = false</c> is not reported, and the
/// mode follows a socket passed along a chain (SpanNetty: <c>Socket.SafeClose()</c> → <c>socket.Disconnect(false)</c>).
/// </summary>
public sealed class SocketModeTests
{
    /// <summary>docs/real-code.md O6: a socket made non-blocking where it is created, used in a handler.</summary>
    [Fact]
    public Task Field_set_non_blocking_in_the_constructor() => Verify.VerifyAsync("""
        using System.Net.Sockets;
        using NoBlock;

        sealed class TcpSocketChannel
        {
            readonly Socket _socket;
            readonly Socket _blocking;
            readonly Socket _initialised = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { Blocking = false };

            public TcpSocketChannel(Socket socket, Socket other)
            {
                _socket = socket;
                _socket.Blocking = false;
                _blocking = other;
            }

            [EventLoopHandler]
            void Flush(IoEvent e)
            {
                int sent = _socket.Send(new byte[16], 0, 16, SocketFlags.None, out SocketError error);
                int read = _initialised.Receive(new byte[16]);
                int late = {|NB0001:_blocking.Send(new byte[16])|};
            }
        }
        """);

    /// <summary>A socket set back to blocking anywhere in its type is not known non-blocking.</summary>
    [Fact]
    public Task Field_set_back_to_blocking_is_not_known() => Verify.VerifyAsync("""
        using System.Net.Sockets;
        using NoBlock;

        sealed class Channel
        {
            readonly Socket _socket;
            bool _mode;

            public Channel(Socket socket) { _socket = socket; _socket.Blocking = false; }

            public void MakeBlocking() => _socket.Blocking = true;

            public void SetMode() => _socket.Blocking = _mode;

            [EventLoopHandler]
            void OnReadable(IoEvent e) => {|NB0001:_socket.Receive(new byte[16])|};
        }
        """);

    /// <summary>
    /// SpanNetty AbstractSocketChannel / TcpSocketChannel / SocketEx.SafeClose: a protected field of a generic base set
    /// non-blocking in the base constructor, used in a subclass and handed to an extension method that disconnects it.
    /// The same helper given a socket of unknown mode is NB0002 with the chain; so is one passed through a parameter.
    /// </summary>
    [Fact]
    public Task Non_blocking_field_passed_along_a_chain() => Verify.VerifyAsync("""
        using System.Net.Sockets;
        using NoBlock;

        static class SocketEx
        {
            public static void SafeClose(this Socket socket)
            {
                try { socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { }
                if (socket.Connected) { socket.Disconnect(false); } else { socket.Dispose(); }
            }

            public static void CloseBoth(Socket first, Socket second)
            {
                first.SafeClose();
                second.SafeClose();
            }
        }

        abstract partial class AbstractSocketChannel<TChannel> where TChannel : AbstractSocketChannel<TChannel>
        {
            protected readonly Socket Socket;

            protected AbstractSocketChannel(Socket socket) => Socket = socket;
        }

        abstract partial class AbstractSocketChannel<TChannel>
        {
            protected AbstractSocketChannel(Socket socket, bool configure) : this(socket)
            {
                Socket.Blocking = false;
            }
        }

        sealed class TcpSocketChannel : AbstractSocketChannel<TcpSocketChannel>
        {
            readonly Socket _peer;

            public TcpSocketChannel(Socket socket, Socket peer) : base(socket, true) => _peer = peer;

            [EventLoopHandler]
            void OnWritable(IoEvent e)
            {
                DoWrite();
                DoClose();
                Socket.SafeClose();
                SocketEx.CloseBoth(Socket, Socket);
                {|#0:_peer.SafeClose()|};
                {|#1:SocketEx.CloseBoth(Socket, _peer)|};
                {|#2:Forward(_peer)|};
                Forward(Socket);
                {|NB0002:DoWriteAgain()|};
            }

            void DoWrite()
            {
                Socket socket = Socket;
                socket.Send(new byte[16]);
            }

            void DoWriteAgain()
            {
                Socket copy = Socket;
                copy = _peer;
                copy.Send(new byte[16]);
            }

            void DoClose() => Socket.SafeClose();

            void Forward(Socket s) => s.SafeClose();
        }
        """,
        new DiagnosticResult(BlockingCallInHandlerAnalyzer.TransitiveBlockingCallRule).WithLocation(0)
            .WithArguments("'TcpSocketChannel.OnWritable'", "SafeClose", "OnWritable → SafeClose → Socket.Disconnect (Test0.cs:9)"),
        new DiagnosticResult(BlockingCallInHandlerAnalyzer.TransitiveBlockingCallRule).WithLocation(1)
            .WithArguments("'TcpSocketChannel.OnWritable'", "CloseBoth", "OnWritable → CloseBoth → SafeClose → Socket.Disconnect (Test0.cs:9)"),
        new DiagnosticResult(BlockingCallInHandlerAnalyzer.TransitiveBlockingCallRule).WithLocation(2)
            .WithArguments("'TcpSocketChannel.OnWritable'", "Forward", "OnWritable → Forward → SafeClose → Socket.Disconnect (Test0.cs:9)"));

    /// <summary>
    /// A helper called twice, once with a non-blocking socket and once with one of unknown mode: each call is its own
    /// edge, and the second reaches the blocking send.
    /// </summary>
    [Fact]
    public Task A_helper_called_with_both_kinds_of_socket() => Verify.VerifyAsync("""
        using System.Net.Sockets;
        using NoBlock;

        sealed class Relay
        {
            readonly Socket _nonBlocking;
            readonly Socket _unknown;

            public Relay(Socket a, Socket b) { _nonBlocking = a; _nonBlocking.Blocking = false; _unknown = b; }

            [EventLoopHandler]
            void OnReadable(IoEvent e) => {|#0:Pump()|};

            void Pump()
            {
                Write(_nonBlocking);
                Write(_unknown);
            }

            static void Write(Socket s) => s.Send(new byte[1]);
        }
        """,
        new DiagnosticResult(BlockingCallInHandlerAnalyzer.TransitiveBlockingCallRule).WithLocation(0)
            .WithArguments("'Relay.OnReadable'", "Pump", "OnReadable → Pump → Write → Socket.Send (Test0.cs:20)"));

    /// <summary>A local made non-blocking in its method (by assignment or initializer); a socket parameter of the handler is not known.</summary>
    [Fact]
    public Task Locals_and_handler_parameters() => Verify.VerifyAsync("""
        using System.Net;
        using System.Net.Sockets;
        using NoBlock;

        sealed class Datagram
        {
            [EventLoopHandler]
            void OnTimer(IoEvent e, Socket given)
            {
                var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { Blocking = false };
                udp.Connect(new IPEndPoint(IPAddress.Loopback, 9));
                var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                tcp.Blocking = false;
                try { tcp.Connect(new IPEndPoint(IPAddress.Loopback, 9)); } catch (SocketException) { }
                var plain = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                {|NB0001:plain.Connect(new IPEndPoint(IPAddress.Loopback, 9))|};
                {|NB0001:given.Send(new byte[1])|};
            }
        }
        """);
}
