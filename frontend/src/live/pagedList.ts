// A filtered, paged list that keeps itself fresh (Orders, Positions): the newest answer wins,
// and a filter change goes back to page 1.
import { ref, watch, type Ref, type WatchSource } from 'vue'
import { messageOf } from '@/api/client'
import type { LiveEvent, Page } from '@/api/types'
import { useAutoRefresh } from '@/live/refresh'

export const PAGE_SIZE = 50

export interface PagedList<T> {
  rows: Ref<T[]>
  count: Ref<number>
  page: Ref<number>
  loading: Ref<boolean>
  error: Ref<string>
  refreshNow: () => void
  /** Back to page 1 and load at once (a submitted or changed filter). */
  restart: () => void
}

/** Call `load` on mount, on the auto-refresh, on a page change; `filters` changing restart at page 1. */
export function usePagedList<T>(
  load: (paging: { page: number; page_size: number }) => Promise<Page<T>>,
  options: { types: LiveEvent['type'][]; filters: WatchSource[] },
): PagedList<T> {
  const rows = ref<T[]>([]) as Ref<T[]>
  const count = ref(0)
  const page = ref(1)
  const loading = ref(true)
  const error = ref('')
  let sequence = 0

  async function refresh(): Promise<void> {
    const mine = ++sequence
    try {
      const answer = await load({ page: page.value, page_size: PAGE_SIZE })
      if (mine !== sequence) return
      rows.value = answer.results
      count.value = answer.count
      error.value = ''
    } catch (cause) {
      if (mine === sequence) error.value = messageOf(cause)
    } finally {
      if (mine === sequence) loading.value = false
    }
  }

  const { refreshNow } = useAutoRefresh(refresh, { types: options.types })
  function restart(): void {
    // Off page 1, the page watcher below makes the one load; on it, load here.
    if (page.value === 1) refreshNow()
    else page.value = 1
  }
  watch(options.filters, restart)
  watch(page, refreshNow)

  return { rows, count, page, loading, error, refreshNow, restart }
}
