/**
 * A jest reporter that ends the run with one plain line of counts, `jest: N passed, N failed, N skipped`,
 * the form CI reads (jest's own summary puts the counts in another order with a total). It is written
 * as the process exits, because jest adds its summary and coverage reporters after the custom ones.
 */

/** The part of jest's AggregatedResult this reporter reads. */
interface RunCounts {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  numRuntimeErrorTestSuites: number;
}

export default class ClosingLineReporter {
  onRunComplete(_contexts: unknown, results: RunCounts): void {
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const skipped = results.numPendingTests + results.numTodoTests;
    const line = `jest: ${results.numPassedTests} passed, ${failed} failed, ${skipped} skipped\n`;
    process.once('exit', () => process.stdout.write(line));
  }
}
