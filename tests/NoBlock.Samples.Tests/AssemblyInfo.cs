using Xunit;

// The fd tests look at which fd numbers are open; a test running in parallel would open and close fds of
// its own and could take a number just closed. The whole assembly runs in a few seconds serially.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
