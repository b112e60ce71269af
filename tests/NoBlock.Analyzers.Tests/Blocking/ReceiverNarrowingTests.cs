using Xunit;
using static NoBlock.Analyzers.Tests.Blocking.TransitiveBlockingCallReachTests;
using Verify = NoBlock.Analyzers.Tests.Verification.AnalyzerVerifier<NoBlock.Analyzers.Rules.BlockingCallInHandlerAnalyzer>;

namespace NoBlock.Analyzers.Tests.Blocking;

/// <summary>
/// docs/real-code.md O7: an interface or virtual call reaches only what its receiver can be. The receiver's static
/// type, the type evidently created for it, and (along a chain) what the caller's <c>this</c> is narrow the
/// implementations before any of them is followed; a receiver that cannot be narrowed still reaches all of them.
/// </summary>
public sealed class ReceiverNarrowingTests
{
    /// <summary>SpanNetty's IReferenceCounted.Release: 23 implementations, one of which (a disk upload) deletes a file.</summary>
    private const string ReferenceCounted = """
        using System.IO;
        using NoBlock;

        interface IReferenceCounted { bool Release(); }
        interface IByteBuffer : IReferenceCounted { int ReadableBytes { get; } }

        abstract class AbstractReferenceCounted : IReferenceCounted
        {
            int _count = 1;
            public bool Release() => ReleaseCore(1);
            bool ReleaseCore(int decrement)
            {
                _count -= decrement;
                if (_count == 0) { this.Deallocate(); return true; }
                return false;
            }
            protected abstract void Deallocate();
        }

        sealed class DiskFileUpload : AbstractReferenceCounted
        {
            protected override void Deallocate() => File.Delete("upload.tmp");
        }

        sealed class CountedBuffer : AbstractReferenceCounted, IByteBuffer
        {
            public int ReadableBytes => 0;
            protected override void Deallocate() { }
        }

        sealed class PooledBuffer : IByteBuffer
        {
            public int ReadableBytes => 0;
            public bool Release() => true;
        }

        """;

    [Fact]
    public Task Receiver_typed_as_a_narrower_interface_reaches_only_its_implementations() => Verify.VerifyAsync(ReferenceCounted + """
        class Decoder
        {
            [EventLoopHandler]
            void OnReadable(IoEvent e, IByteBuffer buffer, IReferenceCounted message)
            {
                buffer.Release();                     // PooledBuffer, or CountedBuffer: neither deletes a file
                {|#0:message.Release()|};             // anything counted, the upload too
            }
        }
        """,
        Chain(0, "'Decoder.OnReadable'", "Release", "OnReadable → AbstractReferenceCounted.Release (one of 2 implementations) → ReleaseCore → DiskFileUpload.Deallocate (one of 2 overrides) → File.Delete (Test0.cs:22)"));

    [Fact]
    public Task Receiver_evidently_one_type_reaches_only_what_that_type_runs() => Verify.VerifyAsync(ReferenceCounted + """
        class Decoder
        {
            readonly IReferenceCounted _buffer = new CountedBuffer();
            readonly IReferenceCounted _upload = new DiskFileUpload();

            [EventLoopHandler]
            void OnReadable(IoEvent e)
            {
                _buffer.Release();                    // the base's Release, but on a CountedBuffer
                IReferenceCounted local = new CountedBuffer();
                local.Release();
                new CountedBuffer().Release();
                {|#0:_upload.Release()|};
            }
        }
        """,
        Chain(0, "'Decoder.OnReadable'", "Release", "OnReadable → AbstractReferenceCounted.Release (field _upload only holds DiskFileUpload) → ReleaseCore → DiskFileUpload.Deallocate (only override, this: DiskFileUpload) → File.Delete (Test0.cs:22)"));

    /// <summary>
    /// What a field holds is read from every place its name is an identifier: a verbatim <c>@name</c> store counts; the
    /// name in a comment, a string or a longer identifier does not.
    /// </summary>
    [Fact]
    public Task Field_stores_are_found_where_the_name_is_an_identifier() => Verify.VerifyAsync(ReferenceCounted + """
        class Decoder
        {
            IReferenceCounted _message = new CountedBuffer();
            IReferenceCounted _buffer = new CountedBuffer();
            IReferenceCounted _bufferSpare = new DiskFileUpload();

            void Reset()
            {
                @_message = new DiskFileUpload();     // a store: _message may be an upload too
                // _buffer = new DiskFileUpload();
                var text = "_buffer = new DiskFileUpload();";
                _bufferSpare = new DiskFileUpload();
            }

            [EventLoopHandler]
            void OnReadable(IoEvent e)
            {
                _buffer.Release();                    // only ever a CountedBuffer
                {|#0:_message.Release()|};
            }
        }
        """,
        Chain(0, "'Decoder.OnReadable'", "Release", "OnReadable → AbstractReferenceCounted.Release (field _message holds CountedBuffer or DiskFileUpload) → ReleaseCore → DiskFileUpload.Deallocate (one of 2 overrides) → File.Delete (Test0.cs:22)"));

    /// <summary>A base class's template method calls an abstract step; the only blocking step is in a sibling's hierarchy.</summary>
    [Fact]
    public Task Template_method_on_this_runs_the_overrides_of_the_callers_own_hierarchy() => Verify.VerifyAsync("""
        using System.Threading;
        using NoBlock;

        abstract class MessageDecoder
        {
            public void ChannelRead() => this.Decode();
            protected void Fire() => Decode();
            protected abstract void Decode();

            [EventLoopHandler]
            void OnTimer(IoEvent e) => {|#0:ChannelRead()|};   // this may be any decoder
        }

        class LineDecoder : MessageDecoder
        {
            protected override void Decode() { }

            MessageDecoder _next = null!;

            [EventLoopHandler]
            void OnReadable(IoEvent e)
            {
                ChannelRead();                         // this is a LineDecoder: its own Decode
                base.Fire();
                {|#1:_next.ChannelRead()|};            // another decoder: any of them
            }
        }

        sealed class FileDecoder : MessageDecoder
        {
            protected override void Decode() => Thread.Sleep(10);
        }

        class JsonDecoder : MessageDecoder
        {
            protected override void Decode() { }

            [EventLoopHandler]
            void OnReadable(IoEvent e) => {|#2:ChannelRead()|};   // a subclass of JsonDecoder blocks
        }

        sealed class SlowJsonDecoder : JsonDecoder
        {
            protected override void Decode() => Thread.Sleep(10);
        }
        """,
        Chain(0, "'MessageDecoder.OnTimer'", "ChannelRead", "OnTimer → ChannelRead → FileDecoder.Decode (one of 4 overrides) → Thread.Sleep (Test0.cs:31)"),
        Chain(1, "'LineDecoder.OnReadable'", "ChannelRead", "OnReadable → ChannelRead → FileDecoder.Decode (one of 4 overrides) → Thread.Sleep (Test0.cs:31)"),
        Chain(2, "'JsonDecoder.OnReadable'", "ChannelRead", "OnReadable → ChannelRead → SlowJsonDecoder.Decode (one of 2 overrides, this: JsonDecoder) → Thread.Sleep (Test0.cs:44)"));
}
