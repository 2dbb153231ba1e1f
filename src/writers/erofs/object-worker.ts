/** Worker thread entry: runs `storeObjects` batches (see object-store.ts). */
import { serveTasks } from '../../util/worker-pool.js';
import { storeObjects } from './object-store.js';

serveTasks(storeObjects);
