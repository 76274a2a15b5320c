/**
 * A record on disk of every job this process is running, so that a job is never silently lost: when
 * a gateway node dies mid-job and comes back, it finds the records its dead predecessor left (in
 * TEMP_DIR, per process id) and reports those jobs as failed with JOB_INTERRUPTED.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface JournalRecord {
  job_id: string;
  filename: string;
  file_size_bytes: number;
  total_pages: number;
  start_time: string;
  /** The upload the job was reading, deleted when the job is found interrupted. */
  upload_path: string;
  /** The fingerprint of the API key that owns the job, so that its JOB_INTERRUPTED report stays that key's. */
  owner?: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class JobJournal {
  private readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** This process's journal, and the records of dead processes' journals (which are removed). */
  static async open(tempDir: string): Promise<{ journal: JobJournal; orphans: JournalRecord[] }> {
    const root = join(tempDir, 'jobs');
    const journal = new JobJournal(join(root, String(process.pid)));
    await mkdir(journal.dir, { recursive: true });
    const orphans: JournalRecord[] = [];
    for (const entry of await readdir(root, { withFileTypes: true })) {
      const pid = Number(entry.name);
      if (!entry.isDirectory() || !Number.isInteger(pid) || pid === process.pid || alive(pid)) continue;
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

  end(jobId: string): Promise<void> {
    return rm(join(this.dir, `${jobId}.json`), { force: true });
  }
}
