namespace NoBlock.Diagnostics;

/// <summary>
/// Creating an <see cref="System.Diagnostics.Tracing.EventListener"/> takes the runtime's event-source lock and,
/// while holding it, enables events whose dispatch starts a <see cref="Task"/>. If another thread is starting its
/// first Task at that moment, it is inside the TPL event source's class constructor, which waits for that same lock,
/// while we wait for the class constructor: a deadlock (StallDemo hung in about one run in three, the loop thread in
/// <c>RuntimeWaitContext</c>'s constructor and the main thread in <c>TplEventSource..cctor</c>). Starting a Task
/// first initialises the TPL event source before the lock is ever taken.
/// </summary>
internal static class ListenerStartup
{
    public static void InitializeTaskEventSource() => new Task(static () => { }).Start(TaskScheduler.Default);
}
