// Package workflow runs Amazon States Language state machines durably, in
// the JSONPath and the JSONata query languages (a state's QueryLanguage,
// or the top level's: jsonatamode.go): all eight state types, input and output
// processing, Retry and Catch, timeouts and heartbeats, Parallel, and Map
// with ItemReader, ItemBatcher and tolerated failures, with error names
// and causes worded as Step Functions words them.
//
// # Journal first
//
// Every history event is appended to the Journal before the interpreter
// acts on what it records: a task is invoked only once its TaskScheduled
// event is durable, a Wait sleeps only once its entry is, a Map starts its
// iterations only once MapStateStarted is. Events without an effect
// outside the history (a Pass, a Choice, a state's exit) are gathered and
// made durable with the next event that has one, and the events of
// concurrent Map iterations and Parallel branches are committed together
// (group commit), so a Map of 10,000 Pass items costs a few hundred
// Appends.
//
// # History shape
//
// Events have the types, details and previousEventId links of Step
// Functions' GetExecutionHistory, as histories recorded on AWS show
// them: the first state's entry links to 0 (not to ExecutionStarted);
// a Map iteration starts from the last state event of the iteration
// before it on the same worker; MapStateSucceeded, ParallelStateSucceeded
// and the state's exit link to the last event of the iterations or
// branches; MapStateFailed and ParallelStateFailed link to the failed
// iteration's or branch's last state event and are recorded only once
// no retry is left. Timestamps never go backwards as IDs go up.
//
// # Resuming
//
// Run with an execution's recorded History resumes it. The interpreter
// indexes the history once by scope (the top level, each Map iteration,
// each Parallel branch, named by the enclosing states, their visit and
// attempt numbers and the item or branch index, so iterations that
// finished out of order are matched exactly) and walks the definition
// again, consuming recorded events instead of acting:
//
//   - a state recorded to its exit is not run again: its recorded output,
//     next state and assigned variables (assignedVariables) are used (so
//     Choice decisions, catches, variables and the results of intrinsics
//     like States.UUID stay what they were);
//   - a Map iteration or Parallel branch recorded as finished is walked
//     through its recorded events only, with no task invoked;
//   - a task with a recorded result is not invoked; a retry keeps its
//     recorded attempt number and delay (JitterStrategy FULL included)
//     and starts when it would have; a Map or Parallel records no event
//     between a failed attempt and its retry (as Step Functions), so one
//     resumed during that delay decides again, from the failure's
//     recorded time: the same delay, except that a FULL jitter is drawn
//     anew;
//   - a Wait ends at the time computed when it was entered;
//   - a task scheduled but without a recorded result is invoked again,
//     with the same task token.
//
// Delivery of tasks is therefore at least once: a task in flight when the
// process stopped (its effect possibly done, its result not yet
// recorded) runs again on resume. Finished states and finished Map
// iterations never run again. Resources whose effect must not repeat
// should be idempotent, or key their effect on what stays the same when a
// task is invoked again: the execution ID with TaskRequest.ScheduledEventID,
// or the task token.
//
// # Redrive
//
// Execution.Redrive restarts a failed, timed out or aborted execution:
// ExecutionRedriven is recorded, each scope's history is cut back to its
// last finished state, and the walk re-runs what did not finish — the
// failed state, with fresh retry counts, and inside a failed Map or
// Parallel only the iterations and branches that did not succeed.
//
// # Time
//
// All timing comes from the Interpreter's Clock. FakeClock, inside a
// testing/synctest bubble, makes Retry intervals, Waits and timeouts take
// no real time while keeping their virtual timing exact.
package workflow
