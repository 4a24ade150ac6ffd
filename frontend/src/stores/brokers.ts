// The user's brokers, shared by the filters, the brokers page and the alert templates.
import { defineStore } from 'pinia'
import { ref } from 'vue'
import { messageOf } from '@/api/client'
import { brokersApi, rows } from '@/api/endpoints'
import type { Broker } from '@/api/types'

export const useBrokersStore = defineStore('brokers', () => {
  const items = ref<Broker[]>([])
  const loaded = ref(false)
  const error = ref('')

  async function load(): Promise<void> {
    try {
      items.value = rows(await brokersApi.list())
      loaded.value = true
      error.value = ''
    } catch (cause) {
      error.value = messageOf(cause)
    }
  }

  function byId(brokerId: number | null | undefined): Broker | undefined {
    return items.value.find((broker) => broker.id === brokerId)
  }

  return { items, loaded, error, load, byId }
})
