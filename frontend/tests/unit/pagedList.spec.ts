import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h, ref } from 'vue'
import type { Page } from '@/api/types'
import { PAGE_SIZE, usePagedList, type PagedList } from '@/live/pagedList'

const pageOf = (results: string[], count = results.length): Page<string> => ({ count, next: null, previous: null, results })

/** Mounts a component whose list loads through `load`; gives back the list and its one filter. */
function mountList(load: (paging: { page: number; page_size: number }) => Promise<Page<string>>) {
  const filter = ref('')
  let list: PagedList<string> | null = null
  const view = mount(
    defineComponent({
      setup() {
        list = usePagedList(load, { types: ['order'], filters: [filter] })
        return () => h('div')
      },
    }),
  )
  return { view, filter, list: list as unknown as PagedList<string> }
}

beforeEach(() => setActivePinia(createPinia()))
afterEach(() => vi.restoreAllMocks())

describe('usePagedList', () => {
  it('loads the first page on mount, then goes back to page 1 when a filter changes', async () => {
    const load = vi.fn(async ({ page }: { page: number }) => pageOf([`row of page ${page}`], 120))
    const { view, filter, list } = mountList(load)
    await flushPromises()
    expect(load).toHaveBeenLastCalledWith({ page: 1, page_size: PAGE_SIZE })
    expect(list.rows.value).toEqual(['row of page 1'])
    expect(list.count.value).toBe(120)
    expect(list.loading.value).toBe(false)

    list.page.value = 3
    await flushPromises()
    expect(list.rows.value).toEqual(['row of page 3'])

    filter.value = 'BTC/USDT'
    await flushPromises()
    expect(list.page.value).toBe(1)
    expect(list.rows.value).toEqual(['row of page 1'])
    // Mount, page 3, then one load for the filter change (not one for the page and one for the filter).
    expect(load).toHaveBeenCalledTimes(3)
    view.unmount()
  })

  it('loads once when a filter changes on page 1 or when restarted', async () => {
    const load = vi.fn(async ({ page }: { page: number }) => pageOf([`row of page ${page}`], 120))
    const { view, filter, list } = mountList(load)
    await flushPromises()
    expect(load).toHaveBeenCalledTimes(1)

    filter.value = 'ETH/USDT'
    await flushPromises()
    expect(load).toHaveBeenCalledTimes(2)

    list.page.value = 2
    await flushPromises()
    expect(load).toHaveBeenCalledTimes(3)
    list.restart()
    await flushPromises()
    expect(load).toHaveBeenCalledTimes(4)
    expect(load).toHaveBeenLastCalledWith({ page: 1, page_size: PAGE_SIZE })
    list.restart()
    await flushPromises()
    expect(load).toHaveBeenCalledTimes(5)
    view.unmount()
  })

  it('keeps the newest answer when an older one arrives late', async () => {
    const answers: ((page: Page<string>) => void)[] = []
    const load = vi.fn(() => new Promise<Page<string>>((resolve) => answers.push(resolve)))
    const { view, list } = mountList(load)
    list.refreshNow()
    answers[1](pageOf(['newest']))
    answers[0](pageOf(['stale']))
    await flushPromises()
    expect(list.rows.value).toEqual(['newest'])
    view.unmount()
  })

  it('shows why a load failed and keeps the rows it had', async () => {
    const load = vi.fn().mockResolvedValueOnce(pageOf(['kept'])).mockRejectedValueOnce(new Error('server down'))
    const { view, list } = mountList(load)
    await flushPromises()
    list.refreshNow()
    await flushPromises()
    expect(list.error.value).toBe('server down')
    expect(list.rows.value).toEqual(['kept'])
    view.unmount()
  })
})
