/**
 * A record on disk of every job this process is running, so that a job is never silently lost: when
 * a gateway node dies mid-job and comes back, it finds the records its dead predecessor left (in
 * TEMP_DIR) and reports those jobs as failed with JOB_INTERRUPTED. A job that ended with its upload
 * kept (for a searchable PDF) keeps its record, marked ended, until the upload is removed, so that a
 * crash never leaves the upload behind.
 *
 * Each start journals in `jobs/<pid>-<instance>/`, the instance being the broker's random id of this
 * start: a process id alone is not enough, since a restarted node may get its dead predecessor's pid
 * (pid 1 in a container). A directory is another start's when its name is not ours; that start is dead
 * when its pid is ours (we hold that pid now) or no process has it.
 */
import { mkdir, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JobSpec } from './job-store.ts';

export interface JournalRecord extends JobSpec {
  job_id: string;
  start_time: string;
  /** The upload the job was reading, deleted when the record is found after a crash. */
  upload_path: string;
  /** The job ended and its upload is kept for a searchable PDF: found after a crash, only the upload goes. */
  ended?: boolean;
  /**
   * A file job's (the batch's, the REPL's, in this node's own process): found after a crash, only its
   * copy goes, since no one is left to ask for it; the batch's rerun reads the file again.
   */
  file_job?: boolean;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the start that wrote in directory `name` (`<pid>-<instance>`, or `<pid>` from older versions) is dead. */
export function deadStart(name: string): boolean {
  const pid = Number(/^(\d+)(-[\w-]+)?$/.exec(name)?.[1]);
  return Number.isInteger(pid) && (pid === process.pid || !alive(pid));
}

export class JobJournal {
  private readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** This start's journal, and the records of dead starts' journals (which are removed). */
  static async open(tempDir: string, instanceId: string): Promise<{ journal: JobJournal; orphans: JournalRecord[] }> {
    const root = join(tempDir, 'jobs');
    const name = `${process.pid}-${instanceId}`;
    const journal = new JobJournal(join(root, name));
    await mkdir(journal.dir, { recursive: true });
    const orphans: JournalRecord[] = [];
    for (const entry of await readdir(root, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name === name || !deadStart(entry.name)) continue;
      const dir = join(root, entry.name);
      for (const file of await readdir(dir)) {
        try {
          orphans.push(JSON.parse(await readFile(join(dir, file), 'utf8')) as JournalRecord);
        } catch {
          // a record cut short by the crash: nothing to report
        }
      }
      await rm(dir, { recursive: true, force: true });
    }
    return { journal, orphans };
  }

  begin(record: JournalRecord): Promise<void> {
    return writeFile(join(this.dir, `${record.job_id}.json`), JSON.stringify(record));
  }

  /** The job ended; its upload stays until `end`. */
  kept(record: JournalRecord): Promise<void> {
    return this.begin({ ...record, ended: true });
  }

  end(jobId: string): Promise<void> {
    return rm(join(this.dir, `${jobId}.json`), { force: true });
  }

  /** On a clean stop: removes this start's directory when no job is left in it (records of jobs still running stay, for the next start). */
  async close(): Promise<void> {
    await rmdir(this.dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOTEMPTY' && err.code !== 'ENOENT') throw err;
    });
  }
}
